import { Redis } from 'ioredis';
import { connect } from 'node:net';
import request from 'supertest';
import { SETTINGS, type Settings } from '../src/config/settings.js';
import { RedisService } from '../src/redis/redis.service.js';
import { StoreUnavailableError } from '../src/redis/store-unavailable.error.js';
import { freePort, waitFor } from '../scripts/processes.mjs';
import { ask, collect, join, nextMessages, seqs } from './support/client.js';
import { type Instance, readiness, startInstance, useInstances, waitReadiness } from './support/instances.js';
import { handshake } from './support/handshake.js';
import { logs } from './support/logs.js';
import { killSubscriber, LinkProxy, RedisServer, redisUrl, uniquePrefix } from './support/redis.js';
import { createRoom } from './support/rest.js';
import { messageStoreOf } from './support/store.js';
import { token } from './support/tokens.js';
import { type Frame, TestClient } from './support/ws-client.js';

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

const NOT_READY = { status: 503, body: expect.objectContaining({ message: expect.stringMatching(/redis/i) }) };

describe('when Redis goes away and comes back (PROTOCOL §2 "When the shared store is away")', () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
  });
  const cluster = useInstances({ mode: 'redis', count: 2, env: async () => ({ REDIS_URL: server.url, HTTP_BODY_IDLE_TIMEOUT_MS: 1000 }) });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  const [A, B] = [0, 1];
  const http = (index: number) => cluster.all[index].http;
  const subscribers = (roomId: string) =>
    admin.pubsub('NUMSUB', `${cluster.prefix}chat:room:${roomId}`).then((reply) => Number((reply as [string, number])[1]));
  const sendMessage = (client: TestClient, roomId: string, content: string) =>
    ask(client, { type: 'send_message', room_id: roomId, content }).then((ack) => {
      expect(ack).toMatchObject({ type: 'message_ack' });
      return ack.message as { seq: number };
    });
  const restSend = (index: number, user: string, roomId: string) =>
    request(http(index))
      .post(`/api/v1/chats/rooms/${roomId}/messages`)
      .set('Authorization', `Bearer ${token(user)}`)
      .send({ content: 'over REST' });
  const content = (frame: Frame) => (frame.message as { content: string }).content;

  describe('one outage, step by step', () => {
    let roomId: string;
    let alice: TestClient;
    let bob: TestClient;
    let carol: TestClient;
    let epochBefore: unknown;
    const others: TestClient[] = [];
    const connect = async (index: number, user: string) => {
      const client = await TestClient.connect(cluster.all[index].ws, token(user));
      others.push(client);
      return client;
    };
    beforeAll(async () => {
      roomId = await createRoom(http(A), 'alice', ['bob', 'carol', 'dave']);
      [alice, bob, carol] = await Promise.all([connect(A, 'alice'), connect(A, 'bob'), connect(B, 'carol')]);
      for (const client of [alice, bob, carol]) epochBefore = (await join(client, roomId)).epoch;
      await collect(alice, 'presence', 2);
      await bob.next('presence');
      await sendMessage(alice, roomId, 'before');
      await Promise.all([alice, bob, carol].map((client) => client.next('message')));
    });
    afterAll(async () => {
      await Promise.all(others.map((client) => client.close()));
      await server.stop();
      await server.restart();
    });

    it('answers every send in flight when Redis stops, and reports not ready with the reason while live stays 200', async () => {
      const inFlight = Array.from({ length: 5 }, (_, i) => ask(alice, { type: 'send_message', room_id: roomId, content: `during ${i}` }));
      await server.stop();
      for (const answer of await Promise.all(inFlight)) {
        expect(answer.type === 'message_ack' || (answer.type === 'error' && answer.code === 'unavailable')).toBe(true);
      }
      expect(await waitReadiness(http(A), 503)).toEqual(NOT_READY);
      expect(await waitReadiness(http(B), 503)).toEqual(NOT_READY);
      await request(http(A)).get('/health/live').expect(200);
      await request(http(B)).get('/health/live').expect(200);
    });

    it('refuses send_message with unavailable and the REST send with 503', async () => {
      const refused = await ask(alice, { type: 'send_message', room_id: roomId, content: 'refused' });
      expect(refused).toMatchObject({ type: 'error', code: 'unavailable' });
      const rest = await restSend(A, 'alice', roomId);
      expect(rest.status).toBe(503);
      expect(rest.body).toMatchObject({ statusCode: 503 });
      await Promise.all([bob.nothing(200, 'message'), carol.nothing(0, 'message')]);
    });

    it('keeps connecting, ping and typing working among its own connections', async () => {
      const fresh = await connect(A, 'erin');
      expect(await ask(fresh, { type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(await ask(bob, { type: 'ping' })).toMatchObject({ type: 'pong' });
      alice.send({ type: 'typing', room_id: roomId });
      expect(await bob.next('typing')).toEqual({ type: 'typing', room_id: roomId, user_id: 'alice', is_typing: true });
      alice.send({ type: 'typing', room_id: roomId, is_typing: false });
      expect(await bob.next('typing_stopped')).toEqual({ type: 'typing_stopped', room_id: roomId, user_id: 'alice' });
      await Promise.all([alice.nothing(200, 'typing'), carol.nothing(0, 'typing')]);
    });

    it('keeps presence and joins of rooms whose membership it knows working among its own connections', async () => {
      expect(await ask(bob, { type: 'leave_room', room_id: roomId })).toMatchObject({ type: 'left', room_id: roomId });
      expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'offline' });
      const rejoined = await ask(bob, { type: 'join_room', room_id: roomId });
      expect(rejoined).toMatchObject({ type: 'joined', room_id: roomId, online: expect.arrayContaining(['alice', 'bob']) });
      expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'online' });
      expect(rejoined.epoch).toBe(epochBefore);
      // A since at the room's last message here is recovered: the instance stores nothing while Redis is away.
      const aliceTab = await connect(A, 'alice');
      const since = { seq: rejoined.seq as number, epoch: rejoined.epoch };
      expect(await ask(aliceTab, { type: 'join_room', room_id: roomId, since })).toMatchObject({ type: 'joined', room_id: roomId, seq: since.seq, recovered: true });
      // One that is behind cannot be read: the client reloads once it can.
      const behind = { seq: since.seq - 1, epoch: since.epoch };
      expect(await ask(await connect(A, 'alice'), { type: 'join_room', room_id: roomId, since: behind })).toMatchObject({ type: 'joined', recovered: false });
      bob.send({ type: 'typing', room_id: roomId });
      expect(await aliceTab.next('typing')).toMatchObject({ user_id: 'bob' });
      expect(await alice.next('typing')).toMatchObject({ user_id: 'bob' });
      await bob.nothing(200, 'presence');
      const dave = await connect(A, 'dave');
      expect(await ask(dave, { type: 'join_room', room_id: roomId })).toMatchObject({ type: 'error', code: 'unavailable' });
    });

    it('after Redis restarts empty on the same port: ready again, and the lost room is left on every instance, told as a reset then a removal', async () => {
      await server.restart();
      await Promise.all([waitReadiness(http(A), 200), waitReadiness(http(B), 200)]);
      const lost = logs.take('warn', /^redis (commands|subscriber) connection lost: /, RedisService.name);
      expect(lost.length).toBeGreaterThan(0);
      expect(logs.take('log', /^redis (commands|subscriber) connection is back$/, RedisService.name)).toHaveLength(lost.length);
      // The catch-up after the reconnect reads a new history: nobody has to send a message for it to show.
      // The room went with Redis's data, so its connections leave it as if removed rather than go on sending
      // into a room no REST route knows.
      for (const client of [alice, bob, carol]) {
        const reset = await client.next('history_reset');
        expect(reset).toEqual({ type: 'history_reset', room_id: roomId, epoch: expect.any(String), seq: 0 });
        expect(reset.epoch).not.toBe(epochBefore);
        expect(await client.next('left')).toEqual({ type: 'left', room_id: roomId, reason: 'removed' });
      }
      expect(await waitFor(async () => (await subscribers(roomId)) === 0, 5000, 'both instances unsubscribed')).toBe(true);
      expect(await ask(alice, { type: 'send_message', room_id: roomId, content: 'into the lost room' })).toMatchObject({ type: 'error', code: 'not_joined' });
      expect(await ask(carol, { type: 'join_room', room_id: roomId })).toMatchObject({ type: 'error', code: 'not_a_member' });
    });
  });

  it('tells joined connections of a history lost while the room survived (evicted keys) before its new messages, and keeps them in the room', async () => {
    for (const index of [A, B]) await waitReadiness(http(index), 200, 15_000);
    const roomId = await createRoom(http(A), 'alice', ['carol']);
    const [alice, carol] = await Promise.all([cluster.connect('alice', A), cluster.connect('carol', B)]);
    const epochBefore = (await join(alice, roomId)).epoch;
    await join(carol, roomId);
    await sendMessage(alice, roomId, 'before');
    for (const client of [alice, carol]) await client.next('message');
    await admin.del(`${cluster.prefix}chat:{${roomId}}:meta`, `${cluster.prefix}chat:{${roomId}}:log`, `${cluster.prefix}chat:{${roomId}}:ids`);

    const fromB = await sendMessage(carol, roomId, 'after the loss');
    expect(fromB.seq).toBe(1);
    for (const client of [alice, carol]) {
      const message = await client.next('message');
      expect(message).toMatchObject({ message: { seq: 1, content: 'after the loss' } });
      const reset = await client.next('history_reset');
      expect(reset).toEqual({ type: 'history_reset', room_id: roomId, epoch: expect.any(String), seq: 0 });
      expect(reset.epoch).not.toBe(epochBefore);
      expect(client.frames.indexOf(reset)).toBeLessThan(client.frames.indexOf(message));
    }
    const fromA = await sendMessage(alice, roomId, 'and on');
    expect(fromA.seq).toBe(2);
    for (const client of [alice, carol]) expect(content(await client.next('message'))).toBe('and on');
    await Promise.all([alice.nothing(200, 'left'), carol.nothing(0, 'left')]);
    await Promise.all([alice.close(), carol.close()]);
  });

  it.each([
    ['flushed while Redis stayed up', false],
    ['lost, and its history given a new epoch by a read since (as the catch-up after a restart reads)', true],
  ])('refuses a send into a room the store lost (%s), and takes its connections out of it as removed', async (_, readSince) => {
    for (const index of [A, B]) await waitReadiness(http(index), 200, 15_000);
    const roomId = await createRoom(http(A), 'alice', ['carol']);
    const [alice, carol] = await Promise.all([cluster.connect('alice', A), cluster.connect('carol', B)]);
    for (const client of [alice, carol]) await join(client, roomId);
    await sendMessage(alice, roomId, 'before');
    for (const client of [alice, carol]) await client.next('message');
    // Every key of the room goes, as with FLUSHALL or eviction of them all.
    const keys = await admin.keys(`${cluster.prefix}chat:{${roomId}}:*`);
    expect(keys).toEqual(expect.arrayContaining([`${cluster.prefix}chat:{${roomId}}:info`, `${cluster.prefix}chat:{${roomId}}:meta`]));
    await admin.del(...keys);
    if (readSince) await messageStoreOf(cluster.all[B].app).readAfter(roomId, 0, 10);

    const refused = await ask(carol, { type: 'send_message', room_id: roomId, content: 'into the lost room' });
    expect(refused).toMatchObject({ type: 'error', code: 'not_a_member', room_id: roomId });
    expect(await carol.next('left')).toEqual({ type: 'left', room_id: roomId, reason: 'removed' });
    expect(await ask(carol, { type: 'send_message', room_id: roomId, content: 'again' })).toMatchObject({ type: 'error', code: 'not_joined' });
    // Nothing was stored or delivered.
    expect(await admin.exists(`${cluster.prefix}chat:{${roomId}}:log`)).toBe(0);
    await alice.nothing(200, 'message');
    await Promise.all([alice.close(), carol.close()]);
  });

  it('starts a room whose meta was lost on a new history: what was left of the old one goes, and its read positions do not hide the new messages', async () => {
    for (const index of [A, B]) await waitReadiness(http(index), 200, 15_000);
    const roomId = await createRoom(http(A), 'alice', ['carol']);
    const unread = async (user: string) => {
      const response = await request(http(B)).get(`/api/v1/chats/rooms/${roomId}`).set('Authorization', `Bearer ${token(user)}`).expect(200);
      return (response.body as { unread_count: number }).unread_count;
    };
    const [alice, carol] = await Promise.all([cluster.connect('alice', A), cluster.connect('carol', B)]);
    for (const client of [alice, carol]) await join(client, roomId);
    for (let i = 0; i < 5; i++) await sendMessage(alice, roomId, `before ${i}`);
    carol.send({ type: 'read', room_id: roomId, seq: 5 });
    expect(await carol.next('read')).toMatchObject({ user_id: 'carol', seq: 5 });
    expect(await unread('carol')).toBe(0);
    // Only `meta` is lost (keys are evicted one by one): the join's read of the head gives the room its new epoch.
    await admin.del(`${cluster.prefix}chat:{${roomId}}:meta`);
    const carolTab = await cluster.connect('carol', B);
    await join(carolTab, roomId);
    expect(await unread('carol')).toBe(0);

    // What was left of the old history went with it: the new one's seqs start at 1 and none is read yet.
    expect((await sendMessage(alice, roomId, 'after the loss')).seq).toBe(1);
    await sendMessage(alice, roomId, 'and on');
    expect(await unread('carol')).toBe(2);
    expect(await unread('alice')).toBe(0);
    const history = await request(http(A)).get(`/api/v1/chats/rooms/${roomId}/messages`).set('Authorization', `Bearer ${token('alice')}`).expect(200);
    expect((history.body.messages as Array<{ content: string }>).map((m) => m.content)).toEqual(['after the loss', 'and on']);
    await Promise.all([alice, carol, carolTab].map((client) => client.close()));
  });

  it('treats a Redis that hangs (sockets open, no answers) as away: not ready, serving what it knows, presence right once it answers', async () => {
    for (const index of [A, B]) await waitReadiness(http(index), 200, 15_000);
    const roomId = await createRoom(http(A), 'alice', ['bob', 'carol']);
    const [alice, bob, carol] = await Promise.all(
      [[A, 'alice'], [A, 'bob'], [B, 'carol']].map(([index, user]) => TestClient.connect(cluster.all[index as number].ws, token(user as string))),
    );
    for (const client of [alice, bob]) await join(client, roomId);
    expect((await join(carol, roomId)).online).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(await ask(alice, { type: 'leave_room', room_id: roomId })).toMatchObject({ type: 'left' });

    server.pause();
    const paused = Date.now();
    try {
      expect(await waitReadiness(http(A), 503, 10_000)).toEqual(NOT_READY);
      // PROTOCOL: a hung connection is dropped, and readiness says so, within about twice REDIS_COMMAND_TIMEOUT_MS
      // (a PING each second, unanswered for the timeout), not after a timeout per command; what is over it is the
      // polling here and a loaded machine.
      expect(Date.now() - paused).toBeLessThan(2 * cluster.all[A].app.get<Settings>(SETTINGS).redis.commandTimeoutMs + 2000);
      // Joins of a known room and typing among its own connections answer at once, not after a timeout per command.
      const asked = Date.now();
      expect(await ask(alice, { type: 'join_room', room_id: roomId })).toMatchObject({ type: 'joined', room_id: roomId });
      expect(Date.now() - asked).toBeLessThan(1500);
      bob.send({ type: 'typing', room_id: roomId });
      expect(await alice.next('typing')).toMatchObject({ user_id: 'bob' });
    } finally {
      server.resume();
    }
    await waitReadiness(http(A), 200, 15_000);
    await waitReadiness(http(B), 200, 15_000);
    // Alice left and came back while Redis hung: every instance sees her online.
    const carolTab = await TestClient.connect(cluster.all[B].ws, token('carol'));
    await waitFor(async () => {
      const joined = await ask(carolTab, { type: 'join_room', room_id: roomId });
      return ((joined.online as string[]) ?? []).includes('alice');
    }, 10_000, 'alice online again on B');
    await Promise.all([alice, bob, carol, carolTab].map((client) => client.close()));
  });

  it('writes no 408 for a stalled body while an earlier request on its connection waits for Redis: it would be read as that answer', async () => {
    for (const index of [A, B]) await waitReadiness(http(index), 200, 15_000);
    server.pause();
    let answer = '';
    try {
      const socket = connect(Number(new URL(http(A)).port), '127.0.0.1');
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('error', () => undefined);
      const closed = new Promise((resolve) => socket.on('close', resolve));
      // One write: a GET that waits for Redis, then a POST whose body stops after 6 of its 100 bytes.
      socket.write(
        `GET /api/v1/chats/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('alice')}\r\n\r\n` +
          `POST /api/v1/chats/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('alice')}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"room`,
      );
      await closed;
    } finally {
      server.resume();
    }
    // Closed without an answer, or after the GET's own (its 503 once Redis timed out): never a 408 first.
    expect(answer).not.toMatch(/^HTTP\/1\.1 408/);
    await waitReadiness(http(A), 200, 15_000);
  });

  it('never sends a command again on a new connection: a send answered unavailable while Redis hung is stored at most once', async () => {
    for (const index of [A, B]) await waitReadiness(http(index), 200, 15_000);
    const roomId = await createRoom(http(A), 'alice', []);
    const alice = await TestClient.connect(cluster.all[A].ws, token('alice'));
    await join(alice, roomId);
    // The scripts are loaded: the send below is the append itself.
    await sendMessage(alice, roomId, 'before');
    server.pause();
    try {
      const answer = await ask(alice, { type: 'send_message', room_id: roomId, content: 'sent into the hang' });
      expect(answer).toMatchObject({ type: 'error', code: 'unavailable' });
      // The stalled connection is dropped and others tried (none gets ready before Redis answers).
      await waitReadiness(http(A), 503, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 2500));
    } finally {
      server.resume();
    }
    await waitReadiness(http(A), 200, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const history = await request(http(A)).get(`/api/v1/chats/rooms/${roomId}/messages`).set('Authorization', `Bearer ${token('alice')}`).expect(200);
    const copies = (history.body.messages as Array<{ content: string }>).filter((m) => m.content === 'sent into the hang');
    // Redis may still run the command the hung server had read (the answer could not say): once, never twice.
    expect(copies.length).toBeLessThanOrEqual(1);
    await alice.close();
  });

  it('resubscribes after its subscriber connection is killed, and delivers what it missed in order', async () => {
    await Promise.all([waitReadiness(http(A), 200), waitReadiness(http(B), 200)]);
    const roomId = await createRoom(http(A), 'alice', ['carol']);
    const [alice, carol] = await Promise.all([cluster.connect('alice', A), cluster.connect('carol', B)]);
    for (const client of [alice, carol]) await join(client, roomId);
    await sendMessage(carol, roomId, 'first');
    expect(await alice.next('message')).toMatchObject({ message: { seq: 1 } });

    await killSubscriber(admin, cluster.all[A].app.get(RedisService).instanceId);
    expect(await subscribers(roomId)).toBe(1);

    await sendMessage(carol, roomId, 'while A was not subscribed');
    await waitFor(async () => (await subscribers(roomId)) === 2, 5000, 'A resubscribed');
    await sendMessage(carol, roomId, 'after A resubscribed');
    const seen = [await alice.next('message', 5000), await alice.next('message', 5000)];
    expect(seen.map((frame) => frame.message)).toMatchObject([
      { seq: 2, content: 'while A was not subscribed' },
      { seq: 3, content: 'after A resubscribed' },
    ]);
    await alice.nothing(200, 'message');
    await sendMessage(alice, roomId, 'A publishes too');
    expect(seqs(await nextMessages(carol, 4))).toEqual([1, 2, 3, 4]);
    expect((await readiness(http(A))).status).toBe(200);
  });

  it('catches a room up once its commands connection is back when the subscriber came back first', async () => {
    await Promise.all([waitReadiness(http(A), 200), waitReadiness(http(B), 200)]);
    const roomId = await createRoom(http(A), 'alice', ['carol']);
    const alice = await cluster.connect('alice', A);
    const epochBefore = (await join(alice, roomId)).epoch;
    await sendMessage(alice, roomId, 'before');
    await alice.next('message');
    const redisA = cluster.all[A].app.get(RedisService);
    redisA.client.disconnect();
    // The room is lost with its keys while A cannot read the store, and A's subscriber then reconnects.
    const keys = await admin.keys(`${cluster.prefix}chat:{${roomId}}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await admin.del(...keys);
    await killSubscriber(admin, redisA.instanceId);
    await waitFor(async () => (await subscribers(roomId)) === 1, 5000, 'A resubscribed');
    await alice.nothing(300, 'history_reset');

    await redisA.client.connect();
    const reset = await alice.next('history_reset');
    expect(reset).toEqual({ type: 'history_reset', room_id: roomId, epoch: expect.any(String), seq: 0 });
    expect(reset.epoch).not.toBe(epochBefore);
    expect(await alice.next('left')).toEqual({ type: 'left', room_id: roomId, reason: 'removed' });
    expect(logs.take('warn', new RegExp(`^Could not catch up room ${roomId}`))).toEqual([]);
  });

  it('starts without Redis, not ready but serving connections, and becomes ready when Redis arrives', async () => {
    const port = await freePort();
    const late = await startInstance({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: uniquePrefix() });
    expect(logs.take('warn', /^Starting without Redis: redis \w+ connection is \w+$/, RedisService.name)).toHaveLength(1);
    let lateServer: RedisServer | undefined;
    const client = await TestClient.connect(late.ws, token('alice'));
    try {
      expect(await readiness(late.http)).toEqual(NOT_READY);
      await request(late.http).get('/health/live').expect(200);
      expect(await ask(client, { type: 'ping' })).toMatchObject({ type: 'pong' });

      lateServer = await RedisServer.start({ port });
      await waitReadiness(late.http, 200);
      const roomId = await createRoom(late.http, 'alice', ['bob']);
      await join(client, roomId);
      expect(await sendMessage(client, roomId, 'now with Redis')).toMatchObject({ seq: 1 });
      expect(await client.next('message')).toMatchObject({ message: { seq: 1, content: 'now with Redis' } });
    } finally {
      await client.close();
      await late.close();
      await lateServer?.stop();
    }
  });
});

describe('a join while the store is away (PROTOCOL §2 "When the shared store is away")', () => {
  let server: RedisServer;
  let app: Instance;
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
    app = await startInstance({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix });
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

describe('a master that refuses writes for now (min-replicas-to-write: NOREPLICAS)', () => {
  let server: RedisServer;
  let admin: Redis;
  const chat = useInstances({ mode: 'redis', count: 1, env: async () => ({ REDIS_URL: (server = await RedisServer.start()).url }) });
  beforeAll(() => {
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    await admin.quit();
    await server.stop();
  });

  it('still answers joins from its history (reads write nothing), and refuses sends with unavailable', async () => {
    const roomId = await chat.room('alice', []);
    const alice = await chat.connect('alice');
    const { epoch } = await join(alice, roomId);
    for (const content of ['one', 'two']) expect(await ask(alice, { type: 'send_message', room_id: roomId, content })).toMatchObject({ type: 'message_ack' });
    // No replica is connected, so every write is refused from now on.
    await admin.config('SET', 'min-replicas-to-write', '1');
    try {
      const tab = await chat.connect('alice');
      expect(await ask(tab, { type: 'join_room', room_id: roomId, since: { seq: 1, epoch } })).toMatchObject({ type: 'joined', seq: 2, epoch, recovered: true });
      expect(await tab.next('message')).toMatchObject({ message: { seq: 2, content: 'two' } });
      expect(await ask(alice, { type: 'send_message', room_id: roomId, content: 'three' })).toMatchObject({ type: 'error', code: 'unavailable' });
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0');
    }
  });

  it('answers unavailable, not internal_error, for a command its connection cut off (a pipeline aborted under a WAIT)', async () => {
    const aborted = Object.assign(new Error('Command aborted due to connection close'), { name: 'AbortError' });
    await expect(chat.first.app.get(RedisService).call(() => Promise.reject(aborted))).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('presence after a Redis link cut (PROTOCOL §2 "Presence")', () => {
  let proxy: LinkProxy;
  let viaProxy: Instance;
  let direct: Instance;
  const clients: TestClient[] = [];
  const connectTo = async (app: Instance, user: string) => {
    const client = await TestClient.connect(app.ws, token(user));
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    const url = await redisUrl();
    proxy = await LinkProxy.start(url);
    const prefix = uniquePrefix();
    [viaProxy, direct] = await Promise.all([
      startInstance({ REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix }),
      startInstance({ REDIS_URL: url, REDIS_KEY_PREFIX: prefix }),
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

  it('sends the connections of an instance that was cut off the edits and deletions made meanwhile once it is back', async () => {
    const roomId = await createRoom(direct.http, 'alice', ['bob']);
    const bob = await connectTo(viaProxy, 'bob');
    await join(bob, roomId);
    const api = (method: 'post' | 'patch' | 'delete', path: string) =>
      request(direct.http)[method](`/api/v1/chats/rooms/${roomId}/messages${path}`).set('Authorization', `Bearer ${token('alice')}`);
    const [first, second] = [(await api('post', '').send({ content: 'first' }).expect(201)).body, (await api('post', '').send({ content: 'second' }).expect(201)).body];
    await nextMessages(bob, 2);

    proxy.cut();
    await api('patch', `/${first.message_id as string}`).send({ content: 'first, edited' }).expect(200);
    await api('delete', `/${second.message_id as string}`).expect(200);
    proxy.heal();

    expect(await bob.next('message_updated', 15_000)).toMatchObject({ message: { message_id: first.message_id, content: 'first, edited', is_edited: true } });
    expect(await bob.next('message_deleted')).toEqual({ type: 'message_deleted', room_id: roomId, message_id: second.message_id });
  });

  it('tells the connections of an instance that was cut off who is online and typing once it is back (presence_state)', async () => {
    const roomId = await createRoom(direct.http, 'alice', ['bob', 'carol']);
    const bob = await connectTo(viaProxy, 'bob');
    const alice = await connectTo(direct, 'alice');
    const carol = await connectTo(direct, 'carol');
    for (const client of [bob, carol, alice]) await join(client, roomId);
    alice.send({ type: 'typing', room_id: roomId, is_typing: true });
    expect(await bob.next('typing')).toMatchObject({ user_id: 'alice' });

    proxy.cut();
    await alice.close();
    // Published, and heard by the instance still connected; not by the one cut off.
    expect(await carol.next('typing_stopped')).toMatchObject({ user_id: 'alice' });
    await waitFor(() => carol.frames.some((frame) => frame.type === 'presence' && frame.user_id === 'alice' && frame.status === 'offline'), 5000, 'alice offline');
    proxy.heal();

    const state = await bob.next('presence_state', 15_000);
    expect({ ...state, online: (state.online as string[]).sort() }).toEqual({ type: 'presence_state', room_id: roomId, online: ['bob', 'carol'], typing: [] });
    // Later changes follow it as before.
    await join(await connectTo(direct, 'alice'), roomId);
    const after = () => bob.frames.slice(bob.frames.indexOf(state));
    await waitFor(() => after().some((frame) => frame.type === 'presence' && frame.user_id === 'alice' && frame.status === 'online'), 5000, 'alice online again');
  });
});

describe('connection slots after a Redis link cut longer than INSTANCE_TTL_MS', () => {
  let proxy: LinkProxy;
  let cutOff: Instance;
  let direct: Instance;
  beforeAll(async () => {
    const url = await redisUrl();
    proxy = await LinkProxy.start(url);
    const env = { REDIS_KEY_PREFIX: uniquePrefix(), MAX_CONNECTIONS_PER_USER: 2, INSTANCE_TTL_MS: 1500 };
    [cutOff, direct] = await Promise.all([startInstance({ ...env, REDIS_URL: proxy.url }), startInstance({ ...env, REDIS_URL: url })]);
  });
  afterAll(async () => {
    await Promise.all([cutOff.close(), direct.close()]);
    await proxy.close();
  });

  it('counts the connections held through it again once Redis is back, on every instance', async () => {
    const tabs = [await TestClient.connect(cutOff.ws, token('grace')), await TestClient.connect(cutOff.ws, token('grace'))];
    proxy.cut();
    // Longer than the slots' lifetime: Redis lets them expire.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    proxy.heal();
    await waitReadiness(cutOff.http, 200, 15_000);
    // Within a renewal (a third of the lifetime) the two open tabs count again: a third is refused elsewhere.
    // (A handshake that is accepted closes at once, giving its slot back.)
    await waitFor(async () => (await handshake(`${direct.ws}?token=${token('grace')}`)).status === 503, 3000, 'a third connection of grace refused');
    for (const tab of tabs) await tab.close();
  });
});

describe('connection slots after a Redis link cut (PROTOCOL §1, MAX_CONNECTIONS_PER_USER)', () => {
  let proxy: LinkProxy;
  let app: Instance;
  beforeAll(async () => {
    proxy = await LinkProxy.start(await redisUrl());
    app = await startInstance({ REDIS_URL: proxy.url, REDIS_KEY_PREFIX: uniquePrefix(), MAX_CONNECTIONS_PER_USER: 2 });
  });
  afterAll(async () => {
    await app.close();
    await proxy.close();
  });

  it('gives back, once Redis is back, the slots of connections that closed while it was away', async () => {
    const tabs = [await TestClient.connect(app.ws, token('frank')), await TestClient.connect(app.ws, token('frank'))];
    proxy.cut();
    await waitReadiness(app.http, 503);
    for (const tab of tabs) await tab.close();
    proxy.heal();
    await waitReadiness(app.http, 200, 15_000);
    // Not after INSTANCE_TTL_MS, when the slots would have expired: at once.
    await waitFor(async () => {
      const tab = TestClient.open(app.ws, token('frank'));
      const opened = await Promise.race([tab.next('connected', 2000).then(() => true), tab.closed.then(() => false)]).catch(() => false);
      await tab.close();
      return opened;
    }, 3000, 'a connection of frank accepted again');
  });
});
