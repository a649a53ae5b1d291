import type { INestApplication } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { createApp } from '../src/app.factory.js';
import type { Environment } from '../src/config/environment.js';
import { ConnectionRegistry } from '../src/chat/connection.registry.js';
import { MetricsService } from '../src/metrics/metrics.service.js';
import { handshake } from './support/handshake.js';
import { waitReadiness } from './support/instances.js';
import { LinkProxy } from './support/redis.js';
import { TestClient } from './support/ws-client.js';

const SECRET = 'metrics-test-secret-0123456789';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const jwt = new JwtService({ secret: SECRET });
const token = (sub: string, expiresInS = 3600) =>
  jwt.sign({ sub, exp: Math.floor(Date.now() / 1000) + expiresInS }, { algorithm: 'HS256' });

interface Running {
  app: INestApplication;
  base: string;
  close(): Promise<void>;
}

async function start(overrides: Environment = {}): Promise<Running> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: SECRET, ...overrides }, false);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  return { app, base, close: () => app.close() };
}

type Frame = { type: string; [key: string]: unknown };

/** A socket that queues frames; `next(type)` waits for the first unread one of that type. */
async function connect(base: string, user: string): Promise<{ send(frame: object): void; next(type: string): Promise<Frame>; close(): void }> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/chats/ws?token=${token(user)}`);
  const frames: Frame[] = [];
  let wake = () => {};
  socket.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    wake();
  });
  const next = async (type: string): Promise<Frame> => {
    const deadline = Date.now() + 3000;
    for (;;) {
      const index = frames.findIndex((frame) => frame.type === type);
      if (index >= 0) return frames.splice(index, 1)[0];
      if (Date.now() > deadline) throw new Error(`no ${type} frame; got ${frames.map((f) => f.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  };
  await next('connected');
  return { send: (frame) => socket.send(JSON.stringify(frame)), next, close: () => socket.close() };
}

/** The value of one sample of the exposition, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2] ? match[2].split(/,(?=[a-zA-Z_]+=)/) : [];
    if (wanted.every((label) => have.includes(label)) && have.length === wanted.length) return Number(match[3]);
  }
  return 0;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

/** Scrapes until `check` holds (metrics of another connection's work land a moment after its answer). */
async function eventually(url: string, check: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const text = await scrape(url);
    if (check(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createRoom(base: string, owner: string, members: string[]): Promise<string> {
  const response = await fetch(`${base}/api/v1/chats/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token(owner)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ room_type: 'team', room_name: 'metrics', member_ids: members }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { room_id: string }).room_id;
}

describe('metrics', () => {
  describe('on Redis, at /metrics on the HTTP port', () => {
    const prefix = `test:${randomUUID().slice(0, 8)}:`;
    let running: Running;
    let url: string;
    beforeAll(async () => {
      running = await start({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
      url = `${running.base}/metrics`;
    });
    afterAll(() => running.close());

    it('exposes every series, the process defaults included, before any traffic', async () => {
      const text = await scrape(url);
      for (const name of [
        'chat_connections_open',
        'chat_ws_upgrades_total',
        'chat_frames_received_total',
        'chat_frames_sent_total',
        'chat_deliveries_total',
        'chat_messages_sent_total',
        'chat_send_to_ack_seconds',
        'chat_publish_to_write_seconds',
        'chat_server_closes_total',
        'chat_redis_connected',
        'chat_redis_command_duration_seconds',
        'chat_bus_events_dropped_total',
        'chat_recovery_joins_total',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_gc_duration_seconds',
        'process_cpu_seconds_total',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(sample(text, 'chat_redis_connected', { connection: 'commands' })).toBe(1);
      expect(sample(text, 'chat_redis_connected', { connection: 'subscriber' })).toBe(1);
    });

    it('counts messages, recoveries, Redis commands and malformed bus events as traffic flows', async () => {
      const before = await scrape(url);
      const roomId = await createRoom(running.base, 'alice', ['bob']);
      const alice = await connect(running.base, 'alice');
      const bob = await connect(running.base, 'bob');
      alice.send({ type: 'join_room', room_id: roomId });
      const joined = await alice.next('joined');
      for (const id of ['m1', 'm2', 'm1']) {
        alice.send({ type: 'send_message', room_id: roomId, content: `hello ${id}`, client_msg_id: id });
        await alice.next('message_ack');
      }
      // Recovery: from the start (recovered), from another epoch, from beyond the head.
      bob.send({ type: 'join_room', room_id: roomId, since: { seq: 0, epoch: joined.epoch } });
      expect(await bob.next('joined')).toMatchObject({ recovered: true });
      bob.send({ type: 'leave_room', room_id: roomId });
      await bob.next('left');
      bob.send({ type: 'join_room', room_id: roomId, since: { seq: 0, epoch: 'another-epoch' } });
      expect(await bob.next('joined')).toMatchObject({ recovered: false });
      bob.send({ type: 'leave_room', room_id: roomId });
      await bob.next('left');
      bob.send({ type: 'join_room', room_id: roomId, since: { seq: 99, epoch: joined.epoch } });
      expect(await bob.next('joined')).toMatchObject({ recovered: false });

      // Something else on the room's channel that is not a room event.
      // Without CLIENT SETINFO, as the service connects: the metrics trace every Redis client of the process.
      const outsider = new Redis(REDIS_URL, { disableClientInfo: true });
      await outsider.publish(`${prefix}chat:room:${roomId}`, '{"type":"message","data":"not a message"}');
      await outsider.publish(`${prefix}chat:room:${roomId}`, 'not json');
      outsider.disconnect();

      const after = await eventually(url, (text) => sample(text, 'chat_bus_events_dropped_total') >= sample(before, 'chat_bus_events_dropped_total') + 2);
      const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
      expect(delta('chat_bus_events_dropped_total')).toBe(2);
      expect(delta('chat_messages_sent_total', { result: 'stored' })).toBe(2);
      expect(delta('chat_messages_sent_total', { result: 'duplicate' })).toBe(1);
      expect(delta('chat_recovery_joins_total', { outcome: 'recovered' })).toBe(1);
      expect(delta('chat_recovery_joins_total', { outcome: 'epoch_changed' })).toBe(1);
      expect(delta('chat_recovery_joins_total', { outcome: 'ahead' })).toBe(1);
      expect(delta('chat_recovery_joins_total', { outcome: 'too_far_behind' })).toBe(0);
      // Each send is one script run on Redis.
      expect(delta('chat_redis_command_duration_seconds_count', { command: 'evalsha', result: 'ok' })).toBeGreaterThanOrEqual(3);
      expect(sample(after, 'chat_redis_command_duration_seconds_sum', { command: 'evalsha', result: 'ok' })).toBeGreaterThan(0);
      // Nothing of the service's own failed on a working Redis, its connects included.
      expect(after.split('\n').filter((line) => line.startsWith('chat_redis_command_duration_seconds_count') && line.includes('result="error"'))).toEqual([]);

      // No label carries a room id or user id.
      for (const value of [roomId, 'alice', 'bob', prefix]) expect(after).not.toContain(value);
      alice.close();
      bob.close();
    });
  });

  describe('at the socket edge (embedded)', () => {
    let running: Running;
    let url: string;
    let ws: string;
    beforeAll(async () => {
      running = await start({
        JWT_CLOCK_SKEW_S: 0,
        HEARTBEAT_INTERVAL_MS: 200,
        MAX_PAYLOAD_BYTES: 2048,
        MAX_CONNECTIONS_PER_USER: 2,
        CORS_ORIGINS: 'http://allowed.example',
        RATE_LIMIT_PER_SECOND: 2,
        RATE_LIMIT_BURST: 10,
        RATE_LIMIT_ABUSE_WINDOW_MS: 1000,
      });
      url = `${running.base}/metrics`;
      ws = `${running.base.replace('http', 'ws')}/api/v1/chats/ws`;
    });
    afterAll(() => running.close());

    const connectAs = (user: string, expiresInS?: number, options = {}) => TestClient.connect(ws, token(user, expiresInS), options);
    const deltas = (before: string, after: string) => (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);

    it('counts upgrades by result, open connections, and frames by type and result', async () => {
      const before = await scrape(url);
      const roomId = await createRoom(running.base, 'dora', ['erin']);
      const dora = await connectAs('dora');
      const erin = await connectAs('erin');
      expect(sample(await scrape(url), 'chat_connections_open')).toBe(sample(before, 'chat_connections_open') + 2);

      // Refused upgrades, one of each kind.
      expect((await handshake(`${ws}?token=not-a-jwt`)).status).toBe(401);
      expect((await handshake(`${ws}?token=${token('dora', -60)}`)).status).toBe(403);
      expect((await handshake(`${ws}?token=${token('dora')}`, { Origin: 'http://evil.example' })).status).toBe(403);
      expect((await handshake(`${running.base}/api/v1/chats/elsewhere?token=${token('dora')}`)).status).toBe(404);
      const third = await connectAs('frank');
      const fourth = await connectAs('frank');
      expect((await handshake(`${ws}?token=${token('frank')}`)).status).toBe(503);
      expect((await fetch(`${running.base}/api/v1/chats/ws`)).status).toBe(426);

      dora.send({ type: 'join_room', room_id: roomId });
      await dora.next('joined');
      erin.send({ type: 'join_room', room_id: roomId });
      await erin.next('joined');
      dora.send({ type: 'ping' });
      await dora.next('pong');
      for (const id of ['a', 'b']) {
        dora.send({ type: 'send_message', room_id: roomId, content: `hi ${id}`, client_msg_id: id });
        await dora.next('message_ack');
        await erin.next('message');
      }
      dora.send({ type: 'send_message', room_id: randomUUID(), content: 'x' });
      dora.send({ type: 'no_such_type' });
      dora.send('{not json');
      dora.send({ type: 'join_room' });
      for (let i = 0; i < 4; i++) await dora.next('error');

      for (const client of [dora, erin, third, fourth]) await client.close();
      const after = await eventually(url, (text) => sample(text, 'chat_connections_open') === sample(before, 'chat_connections_open'));
      const delta = deltas(before, after);
      expect(sample(after, 'chat_connections_open')).toBe(sample(before, 'chat_connections_open'));
      expect(delta('chat_ws_upgrades_total', { result: 'accepted' })).toBe(4);
      for (const result of ['unauthorized', 'token_expired', 'origin_not_allowed', 'not_found', 'user_limit', 'upgrade_required']) {
        expect([result, delta('chat_ws_upgrades_total', { result })]).toEqual([result, 1]);
      }
      // One user over MAX_CONNECTIONS_PER_USER is not the instance refusing connections (draining or full).
      expect(delta('chat_ws_upgrades_total', { result: 'unavailable' })).toBe(0);
      expect(delta('chat_frames_received_total', { type: 'join_room', result: 'ok' })).toBe(2);
      expect(delta('chat_frames_received_total', { type: 'ping', result: 'ok' })).toBe(1);
      expect(delta('chat_frames_received_total', { type: 'send_message', result: 'ok' })).toBe(2);
      expect(delta('chat_frames_received_total', { type: 'send_message', result: 'not_joined' })).toBe(1);
      expect(delta('chat_frames_received_total', { type: 'join_room', result: 'invalid_frame' })).toBe(1);
      expect(delta('chat_frames_received_total', { type: 'other', result: 'unknown_type' })).toBe(1);
      expect(delta('chat_frames_received_total', { type: 'other', result: 'invalid_json' })).toBe(1);
      expect(delta('chat_frames_sent_total', { type: 'connected' })).toBe(4);
      expect(delta('chat_frames_sent_total', { type: 'message_ack' })).toBe(2);
      expect(delta('chat_frames_sent_total', { type: 'error' })).toBe(4);
      // Each message goes to both members' sockets (the sender's too): 2 × 2 deliveries.
      expect(delta('chat_frames_sent_total', { type: 'message' })).toBe(4);
      expect(delta('chat_deliveries_total')).toBeGreaterThanOrEqual(4);
      expect(delta('chat_send_to_ack_seconds_count')).toBe(2);
      expect(delta('chat_send_to_ack_seconds_sum')).toBeGreaterThan(0);
      // Sampled once per message event, not per receiving socket.
      expect(delta('chat_publish_to_write_seconds_count')).toBe(2);
      // No label carries a room id, user id or the unknown type the client chose.
      for (const value of [roomId, 'dora', 'erin', 'no_such_type']) expect(after).not.toContain(value);
    });

    it('counts server closes by reason', async () => {
      const before = await scrape(url);
      const big = await connectAs('gina');
      big.send({ type: 'ping', pad: 'x'.repeat(4096) });
      expect(await big.closed).toMatchObject({ code: 1009 });
      const garbled = await connectAs('gina');
      garbled.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect(await garbled.closed).toMatchObject({ code: 1007 });
      // A frame of a reserved opcode (3), masked and empty, written under the client's own framing.
      const breaker = await connectAs('gina');
      (breaker.socket as unknown as { _socket: Socket })._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
      expect(await breaker.closed).toMatchObject({ code: 1002 });
      const expiring = await connectAs('hank', 1);
      expect(await expiring.closed).toMatchObject({ code: 1008, reason: 'token_expired' });
      const silent = await connectAs('ivan', undefined, { autoPong: false });
      expect((await silent.closed).code).toBe(1006);
      const flooder = await connectAs('kira');
      const flood = setInterval(() => {
        if (flooder.socket.readyState === flooder.socket.OPEN) for (let i = 0; i < 3; i++) flooder.send({ type: 'ping' });
      }, 100);
      try {
        expect(await flooder.closed).toMatchObject({ code: 1008, reason: 'rate_limit_abuse' });
      } finally {
        clearInterval(flood);
      }
      const drained = await connectAs('jade');
      await running.app.get(ConnectionRegistry).drain(0);
      expect(await drained.closed).toMatchObject({ code: 1012 });
      const after = await scrape(url);
      const delta = deltas(before, after);
      expect(delta('chat_server_closes_total', { reason: 'too_big' })).toBe(1);
      expect(delta('chat_server_closes_total', { reason: 'invalid_data' })).toBe(1);
      expect(delta('chat_server_closes_total', { reason: 'protocol_error' })).toBe(1);
      expect(delta('chat_server_closes_total', { reason: 'token_expired' })).toBe(1);
      expect(delta('chat_server_closes_total', { reason: 'heartbeat_timeout' })).toBe(1);
      expect(delta('chat_server_closes_total', { reason: 'server_restarting' })).toBe(1);
      expect(delta('chat_server_closes_total', { reason: 'rate_limit_abuse' })).toBe(1);
      expect(delta('chat_frames_received_total', { type: 'other', result: 'rate_limited' })).toBeGreaterThan(0);
      expect(delta('chat_server_closes_total', { reason: 'slow_consumer' })).toBe(0);
    }, 15_000);
  });

  it('counts a join with `since` while the shared store is away as recovery outcome unavailable', async () => {
    const link = await LinkProxy.start(REDIS_URL);
    const running = await start({ REDIS_URL: link.url, REDIS_KEY_PREFIX: `test:${randomUUID().slice(0, 8)}:` });
    try {
      const url = `${running.base}/metrics`;
      const roomId = await createRoom(running.base, 'kim', []);
      const kim = await TestClient.connect(`${running.base.replace('http', 'ws')}/api/v1/chats/ws`, token('kim'));
      kim.send({ type: 'join_room', room_id: roomId });
      const joined = await kim.next('joined');
      kim.send({ type: 'leave_room', room_id: roomId });
      await kim.next('left');
      const before = await scrape(url);
      link.cut();
      // Once the instance knows Redis is away (not ready), a join does without the store.
      await waitReadiness(running.base, 503);
      // Membership is known locally, so the join succeeds, without recovery.
      kim.send({ type: 'join_room', room_id: roomId, since: { seq: 0, epoch: joined.epoch } });
      expect(await kim.next('joined')).toMatchObject({ recovered: false });
      const after = await scrape(url);
      expect(sample(after, 'chat_recovery_joins_total', { outcome: 'unavailable' }) - sample(before, 'chat_recovery_joins_total', { outcome: 'unavailable' })).toBe(1);
      link.heal();
      await kim.close();
    } finally {
      await running.close();
      await link.close();
    }
  });

  it('moves to a server of its own with METRICS_PORT, which serves only /metrics', async () => {
    const running = await start({ METRICS_PORT: 0 });
    try {
      expect((await fetch(`${running.base}/metrics`)).status).toBe(404);
      const port = running.app.get(MetricsService).separateAddress?.port;
      expect(port).toBeGreaterThan(0);
      const text = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect(text).toContain('# TYPE chat_connections_open gauge');
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(404);
    } finally {
      await running.close();
    }
  });

  it('is not served at all with METRICS_ENABLED=false', async () => {
    const running = await start({ METRICS_ENABLED: 'false' });
    try {
      expect((await fetch(`${running.base}/metrics`)).status).toBe(404);
      expect(running.app.get(MetricsService).separateAddress).toBeUndefined();
      // Nor collected: the process collectors (the event-loop lag timer among them) do not run.
      expect(await running.app.get(MetricsService).render()).not.toContain('nodejs_eventloop_lag');
    } finally {
      await running.close();
    }
  });
});
