import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryBus } from '../src/bus/memory.bus.js';
import { RedisBus } from '../src/bus/redis.bus.js';
import type { RoomBus } from '../src/bus/room-bus.js';
import type { RoomEvent } from '../src/bus/room-event.js';
import { parseEnvironment } from '../src/config/environment.js';
import { toSettings } from '../src/config/settings.js';
import { RedisService } from '../src/redis/redis.service.js';
import { waitFor } from './support/cluster.js';
import { redisUrl, uniquePrefix } from './support/redis.js';

interface BusHandle {
  bus: RoomBus;
  close(): Promise<void>;
}

interface RedisBusHandle extends BusHandle {
  bus: RedisBus;
  redis: RedisService;
}

interface Received {
  roomId: string;
  event: RoomEvent;
}

/** Records what one listener receives, so a test waits for events instead of sleeping. */
class Inbox {
  readonly received: Received[] = [];
  private wakers: Array<() => void> = [];

  readonly listener = (roomId: string, event: RoomEvent): void => {
    this.received.push({ roomId, event });
    for (const wake of this.wakers.splice(0)) wake();
  };

  /** Resolves once `count` events have arrived; fails after `timeoutMs`. */
  async until(count: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Received ${this.received.length} of ${count} events within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  /** Waits for the `sentinel` event, then returns everything received, sentinel included. */
  async through(sentinel: RoomEvent, timeoutMs = 5000): Promise<Received[]> {
    await waitFor(() => this.received.some((r) => sameEvent(r.event, sentinel)), timeoutMs, 'the sentinel event', 10);
    return this.received;
  }
}

const typing = (label: string): RoomEvent => ({ type: 'typing', data: { user_id: label, connection_id: 'c-1' } });
const sameEvent = (a: RoomEvent, b: RoomEvent) => JSON.stringify(a) === JSON.stringify(b);
const labels = (received: Received[]) => received.map((r) => (r.event.data as { user_id: string }).user_id);
const newRoom = () => `room-${randomUUID()}`;

/** The `RoomBus` contract (src/bus/room-bus.ts), for any implementation. */
export function describeBusContract(name: string, make: () => Promise<BusHandle>): void {
  describe(`${name} honours the RoomBus contract`, () => {
    let handle: BusHandle;
    beforeEach(async () => {
      handle = await make();
    });
    afterEach(async () => {
      await handle.close();
    });

    it('delivers a subscribed room’s events, its own publishes included, to every listener, once each, in publish order', async () => {
      const [first, second] = [new Inbox(), new Inbox()];
      handle.bus.onEvent(first.listener);
      handle.bus.onEvent(second.listener);
      const roomId = newRoom();
      await handle.bus.subscribe(roomId);
      const expected = Array.from({ length: 50 }, (_, i) => `e${i}`);
      await Promise.all(expected.map((label) => handle.bus.publish(roomId, typing(label))));
      const sentinel = typing('sentinel');
      await handle.bus.publish(roomId, sentinel);
      for (const inbox of [first, second]) {
        const received = await inbox.through(sentinel);
        expect(labels(received)).toEqual([...expected, 'sentinel']);
        expect(received.every((r) => r.roomId === roomId)).toBe(true);
      }
    });

    it('never calls a listener inside publish', async () => {
      const inbox = new Inbox();
      handle.bus.onEvent(inbox.listener);
      const roomId = newRoom();
      await handle.bus.subscribe(roomId);
      const publishing = handle.bus.publish(roomId, typing('async'));
      expect(inbox.received).toHaveLength(0);
      await publishing;
      expect(labels(await inbox.until(1))).toEqual(['async']);
    });

    it('still delivers to the other listeners when one throws', async () => {
      const inbox = new Inbox();
      handle.bus.onEvent(() => {
        throw new Error('a failing listener');
      });
      handle.bus.onEvent(inbox.listener);
      const roomId = newRoom();
      await handle.bus.subscribe(roomId);
      await handle.bus.publish(roomId, typing('one'));
      await handle.bus.publish(roomId, typing('two'));
      expect(labels(await inbox.until(2))).toEqual(['one', 'two']);
    });

    it('delivers nothing of rooms never subscribed or unsubscribed', async () => {
      const inbox = new Inbox();
      handle.bus.onEvent(inbox.listener);
      const [watched, never, dropped] = [newRoom(), newRoom(), newRoom()];
      await handle.bus.subscribe(watched);
      await handle.bus.subscribe(dropped);
      await handle.bus.unsubscribe(dropped);
      await handle.bus.publish(never, typing('never'));
      await handle.bus.publish(dropped, typing('dropped'));
      const sentinel = typing('sentinel');
      await handle.bus.publish(watched, sentinel);
      const received = await inbox.through(sentinel);
      expect(received).toEqual([{ roomId: watched, event: sentinel }]);
    });
  });
}

describeBusContract(MemoryBus.name, async () => ({ bus: new MemoryBus(), close: async () => undefined }));

async function redisBus(prefix: string): Promise<RedisBusHandle> {
  const env = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), REDIS_URL: await redisUrl(), REDIS_KEY_PREFIX: prefix };
  const redis = new RedisService(toSettings(parseEnvironment(env)));
  await redis.onModuleInit();
  const bus = new RedisBus(redis);
  bus.onModuleInit();
  return { bus, redis, close: () => redis.onApplicationShutdown() };
}

describeBusContract(RedisBus.name, () => redisBus(uniquePrefix()));

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
  });

  it('calls the resync listener after its subscriber connection is killed, and delivers again', async () => {
    const { bus, redis } = await open();
    const inbox = new Inbox();
    bus.onEvent(inbox.listener);
    let resyncs = 0;
    bus.onResync(() => (resyncs += 1));
    const roomId = newRoom();
    await bus.subscribe(roomId);

    const name = `chat:${redis.instanceId}:subscriber`;
    const line = ((await admin.client('LIST')) as string).split('\n').find((entry) => entry.includes(` name=${name} `));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    expect(await admin.client('KILL', 'ID', id ?? '')).toBe(1);

    await waitFor(() => resyncs > 0, 5000, 'the resync listener called');
    expect(await subscribers(roomId)).toBe(1);
    const after = typing('after the kill');
    await bus.publish(roomId, after);
    expect(await inbox.through(after)).toEqual([{ roomId, event: after }]);
  });
});
