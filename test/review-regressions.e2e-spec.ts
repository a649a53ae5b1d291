import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import request from 'supertest';
import { InstanceState } from '../src/instance/instance-state.js';
import { startApp, type RunningApp } from './support/app.js';
import { answersTo, collect, join } from './support/chat.js';
import { ask, backendMessage, seqs, useCluster, waitFor, waitReadiness } from './support/cluster.js';
import { redisUrl, RedisServer, uniquePrefix } from './support/redis.js';
import { createRoom } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

/** Forwards a local port to Redis; `cut()` severs every link and refuses new ones until `heal()`. */
class LinkProxy {
  private readonly sockets = new Set<Socket>();
  private severed = false;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {
    server.on('connection', (inbound: Socket) => this.pipe(inbound));
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  static async start(target: string): Promise<LinkProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new LinkProxy(server, new URL(target));
  }

  cut(): void {
    this.severed = true;
    for (const socket of this.sockets) socket.destroy();
  }

  heal(): void {
    this.severed = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(inbound: Socket): void {
    if (this.severed) return void inbound.destroy();
    const outbound = connect(Number(this.target.port || 6379), this.target.hostname);
    for (const [socket, peer] of [
      [inbound, outbound],
      [outbound, inbound],
    ]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        peer.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  }
}

/** What a Redis with persistence would keep across a restart: every key under `prefix`, put back by the returned function. */
async function persisted(url: string, prefix: string): Promise<() => Promise<void>> {
  const redis = new Redis(url);
  const keys = await redis.keys(`${prefix}*`);
  const dumps = await Promise.all(keys.map(async (key) => [key, await redis.dumpBuffer(key)] as const));
  await redis.quit();
  return async () => {
    const restored = new Redis(url);
    for (const [key, dump] of dumps) await restored.restore(key, 0, dump, 'REPLACE');
    await restored.quit();
  };
}


describe('regressions from the review, on two instances sharing one Redis', () => {
  const cluster = useCluster(2);
  const [A, B] = [0, 1];
  const http = (index: number) => cluster.instances[index].http;
  let publisher: Redis;
  beforeAll(() => {
    publisher = new Redis(cluster.redisUrl);
  });
  afterAll(async () => {
    await publisher.quit();
  });

  it('never keeps in the room a connection that closes right after sending join_room', async () => {
    const ghosts = Array.from({ length: 30 }, (_, i) => `ghost-${i}`);
    const roomId = await createRoom(http(A), 'host', [...ghosts, 'newcomer']);
    for (const ghost of ghosts) {
      const client = await TestClient.connect(cluster.instances[A].ws, token(ghost));
      client.send({ type: 'join_room', room_id: roomId });
      client.socket.terminate();
      await client.closed;
    }
    await waitFor(async () => cluster.instances[A].app.get(InstanceState).connections === 0, 5000, 'every ghost connection gone from A');

    const newcomer = await cluster.connect(B, 'newcomer');
    const joined = await join(newcomer, roomId);
    expect(joined.online).toEqual(['newcomer']);
    for (const index of [A, B]) await request(http(index)).get('/health/ready').expect(200);
  });

  it('delivers a backend message that carries a seq of its own, and the service’s own messages after it', async () => {
    const roomId = await createRoom(http(A), 'alice', ['bob']);
    const clients = await Promise.all([cluster.connect(A, 'alice'), cluster.connect(B, 'alice'), cluster.connect(B, 'bob')]);
    for (const client of clients) await join(client, roomId);
    const data = backendMessage(roomId, 'from backend', { message_id: 'm-x', sender_id: 'backend', seq: 500 });
    expect(await publisher.publish(`${cluster.prefix}chat:room:${roomId}`, JSON.stringify({ type: 'message', data }))).toBe(2);
    for (const client of clients) expect(await client.next('message')).toEqual({ type: 'message', message: data });

    for (const content of ['ours 1', 'ours 2']) {
      expect(await ask(clients[0], { type: 'send_message', room_id: roomId, content })).toMatchObject({ type: 'message_ack' });
    }
    for (const client of clients) expect(seqs(await collect(client, 'message', 2))).toEqual([1, 2]);
  });

  it('refuses a since that is not an object, or whose seq is past the safe integers, naming the field', async () => {
    const roomId = await createRoom(http(A), 'alice', []);
    const alice = await cluster.connect(A, 'alice');
    const asArray = JSON.stringify({ type: 'join_room', room_id: roomId, since: [{ seq: 0, epoch: 'e' }] });
    expect(await answersTo(alice, asArray)).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringMatching(/^since\b(?!\.)/) }),
    ]);
    const huge = `{"type":"join_room","room_id":${JSON.stringify(roomId)},"since":{"seq":1e300,"epoch":"e"}}`;
    expect(await answersTo(alice, huge)).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringMatching(/\bsince\.seq\b/) }),
    ]);
  });
});

describe('a join while the store is away (PROTOCOL §2 "When the shared store is away")', () => {
  let server: RedisServer;
  let app: RunningApp;
  let prefix: string;
  const clients: TestClient[] = [];
  const connectAs = async (user: string) => {
    const client = await TestClient.connect(app.ws, token(user));
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    server = await RedisServer.start();
    prefix = uniquePrefix();
    app = await startApp({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app.close();
    await server.stop();
  });

  it('answers an epoch that a later join_room with since accepts', async () => {
    const roomId = await createRoom(app.http, 'alice', []);
    const first = await connectAs('alice');
    await join(first, roomId);
    expect(await ask(first, { type: 'leave_room', room_id: roomId })).toMatchObject({ type: 'left', room_id: roomId });

    const restore = await persisted(server.url, prefix);
    await server.stop();
    await waitReadiness(app.http, 503);
    const during = await ask(await connectAs('alice'), { type: 'join_room', room_id: roomId });
    expect(during).toMatchObject({ type: 'joined', room_id: roomId, recovered: false, seq: expect.any(Number) });
    expect(during.epoch).toEqual(expect.stringMatching(/\S/));

    await server.restart();
    await restore();
    await waitReadiness(app.http, 200, 15_000);
    const since = { seq: during.seq, epoch: during.epoch };
    const after = await ask(await connectAs('alice'), { type: 'join_room', room_id: roomId, since });
    expect(after).toMatchObject({ type: 'joined', room_id: roomId });
  });
});

describe('presence after a Redis link cut (PROTOCOL §2 "Presence")', () => {
  let proxy: LinkProxy;
  let viaProxy: RunningApp;
  let direct: RunningApp;
  const clients: TestClient[] = [];
  const connectTo = async (app: RunningApp, user: string) => {
    const client = await TestClient.connect(app.ws, token(user));
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    const url = await redisUrl();
    proxy = await LinkProxy.start(url);
    const prefix = uniquePrefix();
    [viaProxy, direct] = await Promise.all([
      startApp({ REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix }),
      startApp({ REDIS_URL: url, REDIS_KEY_PREFIX: prefix }),
    ]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([viaProxy.close(), direct.close()]);
    await proxy.close();
  });

  it('takes offline everywhere a user who left while the instance was cut off', async () => {
    const roomId = await createRoom(direct.http, 'alice', ['bob', 'carol']);
    const alice = await connectTo(viaProxy, 'alice');
    const bob = await connectTo(direct, 'bob');
    await join(alice, roomId);
    await join(bob, roomId);
    expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'online' });

    proxy.cut();
    await waitReadiness(viaProxy.http, 503);
    expect(await ask(alice, { type: 'leave_room', room_id: roomId })).toMatchObject({ type: 'left', room_id: roomId });
    proxy.heal();
    await waitReadiness(viaProxy.http, 200, 15_000);

    expect(await bob.next('presence', 10_000)).toEqual({ type: 'presence', room_id: roomId, user_id: 'alice', status: 'offline' });
    const carol = await connectTo(direct, 'carol');
    expect(((await join(carol, roomId)).online as string[]).sort()).toEqual(['bob', 'carol']);
  });
});
