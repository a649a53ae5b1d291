import { Redis } from 'ioredis';
import { waitFor } from '../../scripts/processes.mjs';
import { MemoryBus } from '../../src/bus/memory.bus.js';
import { RedisBus } from '../../src/bus/redis.bus.js';
import type { RedisService } from '../../src/redis/redis.service.js';
import { logs, recordNestLogs } from '../support/logs.js';
import { killSubscriber, redisService, redisUrl, uniquePrefix } from '../support/redis.js';
import { clusterRedisService } from '../support/redis-cluster.js';
import { Inbox } from './inbox.js';
import { describeBusContract, labels, newRoom, typing, type BusHandle } from './room-bus.contract.js';

interface RedisBusHandle extends BusHandle {
  bus: RedisBus;
  redis: RedisService;
}

recordNestLogs();

describeBusContract(MemoryBus.name, async () => ({ bus: new MemoryBus(), close: async () => undefined }));

async function redisBus(prefix: string): Promise<RedisBusHandle> {
  const redis = await redisService(prefix);
  const bus = new RedisBus(redis);
  bus.onModuleInit();
  return { bus, redis, close: () => redis.onApplicationShutdown() };
}

describeBusContract(RedisBus.name, () => redisBus(uniquePrefix()));

describe('on a Redis Cluster (sharded pub/sub)', () => {
  describeBusContract(`${RedisBus.name} (cluster)`, async () => {
    const redis = await clusterRedisService(uniquePrefix());
    const bus = new RedisBus(redis);
    bus.onModuleInit();
    return { bus, close: () => redis.onApplicationShutdown() };
  });
});

describe(`${RedisBus.name} across instances and faults`, () => {
  let prefix: string;
  let admin: Redis;
  const handles: RedisBusHandle[] = [];
  const open = async () => {
    const handle = await redisBus(prefix);
    handles.push(handle);
    return handle;
  };
  const channel = (roomId: string) => `${prefix}chat:room:${roomId}`;
  const subscribers = async (roomId: string) => Number(((await admin.pubsub('NUMSUB', channel(roomId))) as [string, number])[1]);

  beforeAll(async () => {
    admin = new Redis(await redisUrl());
  });
  beforeEach(() => {
    prefix = uniquePrefix();
  });
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((handle) => handle.close()));
  });
  afterAll(async () => {
    await admin.quit();
  });

  it('lets two instances on one prefix see each other’s publishes, in one order', async () => {
    const [one, two] = [await open(), await open()];
    const [inOne, inTwo] = [new Inbox(), new Inbox()];
    one.bus.onEvent(inOne.listener);
    two.bus.onEvent(inTwo.listener);
    const roomId = newRoom();
    await Promise.all([one.bus.subscribe(roomId), two.bus.subscribe(roomId)]);
    await one.bus.publish(roomId, typing('from one'));
    await two.bus.publish(roomId, typing('from two'));
    const sentinel = typing('sentinel');
    await one.bus.publish(roomId, sentinel);
    for (const inbox of [inOne, inTwo]) {
      expect(labels(await inbox.through(sentinel))).toEqual(['from one', 'from two', 'sentinel']);
    }
  });

  it('holds a room’s channel only while the room is subscribed', async () => {
    const { bus } = await open();
    const roomId = newRoom();
    await bus.subscribe(roomId);
    expect(await subscribers(roomId)).toBe(1);
    await bus.unsubscribe(roomId);
    expect(await subscribers(roomId)).toBe(0);
  });

  it('drops malformed payloads on a room’s channel and keeps delivering valid events', async () => {
    const { bus } = await open();
    const inbox = new Inbox();
    bus.onEvent(inbox.listener);
    const roomId = newRoom();
    await bus.subscribe(roomId);
    const malformed = [
      'not json',
      '[]',
      '{"type":"message"}',
      '{"type":"message","data":{"room_id":"r"}}',
      '{"type":"presence","data":{"user_id":"u","status":"away"}}',
      '{"type":"no_such_type","data":{}}',
    ];
    for (const payload of malformed) expect(await admin.publish(channel(roomId), payload)).toBe(1);
    const valid = typing('valid');
    await bus.publish(roomId, valid);
    expect(await inbox.through(valid)).toEqual([{ roomId, event: valid }]);
    expect(bus.dropped).toBe(malformed.length);
    expect(logs.take('debug', /^dropped a malformed event on /, RedisBus.name)).toHaveLength(malformed.length);
  });

  it('calls the resync listener after its subscriber connection is killed, and delivers again', async () => {
    const { bus, redis } = await open();
    const inbox = new Inbox();
    bus.onEvent(inbox.listener);
    let resyncs = 0;
    bus.onResync(() => (resyncs += 1));
    const roomId = newRoom();
    await bus.subscribe(roomId);

    await killSubscriber(admin, redis.instanceId);

    await waitFor(() => resyncs > 0, 5000, 'the resync listener called');
    expect(await subscribers(roomId)).toBe(1);
    const after = typing('after the kill');
    await bus.publish(roomId, after);
    expect(await inbox.through(after)).toEqual([{ roomId, event: after }]);
  });
});
