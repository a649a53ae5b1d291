import type { INestApplication } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
import { RoomFanout } from '../src/chat/room-fanout.js';
import { RedisService } from '../src/redis/redis.service.js';
import { gc } from './support/gc.js';
import { useInstances, type Instance, type Mode } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

/** How long each implementation churns. */
const CHURN_MS = 12_000;
/** Clients churning at once. */
const CONCURRENT = 12;
/**
 * What the process holds after the churn (JavaScript heap and the memory
 * of Buffers, after a full collection) may exceed the baseline by at most
 * this much: the embedded history keeps the churn's messages (about 4 MiB
 * for some 3,000 lives).
 * A leak of a connection's state grows with the thousands of lives and
 * passes it. RSS is not the measure: Node 24 hands freed pages back late
 * and unevenly (its RSS stayed 35–150 MiB above the baseline after the same
 * churn), while the heap and Buffers are counted exactly.
 */
const RETAINED_MARGIN_BYTES = 16 * 1024 * 1024;


/**
 * Handles and requests the process holds, by type (timers, sockets, …), as the fewest seen over
 * a second: what is held in every sample stays behind, while a Redis command in flight (its
 * timeout timer) or the test runner's own reporter timer comes and goes.
 */
async function resources(): Promise<Map<string, number>> {
  const fewest = new Map<string, number>();
  for (let sample = 0; sample < 6; sample++) {
    if (sample > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    const counts = new Map<string, number>();
    for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
    for (const type of new Set([...fewest.keys(), ...counts.keys()])) {
      fewest.set(type, sample === 0 ? (counts.get(type) ?? 0) : Math.min(fewest.get(type) ?? 0, counts.get(type) ?? 0));
    }
  }
  return fewest;
}

/** Listeners on the app's HTTP server and its Redis connections. */
function listeners(app: INestApplication): number {
  const emitters: EventEmitter[] = [app.getHttpServer() as EventEmitter];
  const redis = app.get(RedisService, { strict: false });
  if (redis.enabled) emitters.push(redis.client, redis.subscriber);
  return emitters.reduce((sum, emitter) => sum + emitter.eventNames().reduce((n, name) => n + emitter.listenerCount(name), 0), 0);
}

/** The heap and Buffer memory still held after full collections. */
async function settle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

const HOSTILE = [
  '{"type":"send_message","room_id":"nope","content":"x"}',
  '{"type":"join_room","room_id":"\\ud800"}',
  '{"__proto__":{"x":1},"type":"typing"}',
  'not json',
  '{"type":"join_room","room_id":"a:b","since":{"seq":1e308,"epoch":"{x}"}}',
];

/** One client's life: connect, join, type, send, hostile frames, leave, disconnect. */
async function life(running: Instance, rooms: string[], n: number): Promise<void> {
  const client = await TestClient.connect(running.ws, token(`user-${n % 6}`));
  try {
    const roomId = rooms[n % rooms.length];
    client.send({ type: 'join_room', room_id: roomId, ref: 'j' });
    await client.next('joined');
    client.send({ type: 'typing', room_id: roomId });
    client.send({ type: 'send_message', room_id: roomId, content: `m${n}`, client_msg_id: `c${n}` });
    await client.next('message_ack');
    for (const raw of HOSTILE) client.socket.send(raw);
    if (n % 3 === 0) {
      client.send({ type: 'leave_room', room_id: roomId });
      await client.next('left');
    }
    client.send({ type: 'ping', ref: 'end' });
    await client.next('pong');
  } finally {
    await client.close();
  }
}

// The two implementations of the stores; a cluster's client keeps timers of its own (slot refreshes,
// per-node reconnects) that come and go, so its soak would measure ioredis rather than this service.
const SOAKED: Mode[] = ['embedded', 'redis'];

describe.each(SOAKED)('churn on the %s implementation', (mode) => {
  const instances = useInstances({ mode, count: 1, env: { RATE_LIMIT_PER_SECOND: 1000, RATE_LIMIT_BURST: 1000, TYPING_TTL_MS: 200 } });

  it(`retains within ${RETAINED_MARGIN_BYTES / 2 ** 20} MiB of its baseline and leaves no timer, socket or listener behind`, async () => {
    const running = instances.first;
    const app: INestApplication = running.app;
    const users = Array.from({ length: 6 }, (_, i) => `user-${i}`);
    const rooms = [await createRoom(running.http, 'user-0', users.slice(1)), await createRoom(running.http, 'user-1', users)];
    // Warm up (JIT, pools, the first subscription), then take the baseline.
    await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => life(running, rooms, i)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const baseline = { retained: await settle(), resources: await resources(), listeners: listeners(app) };

    const end = Date.now() + CHURN_MS;
    let lives = 0;
    await Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        while (Date.now() < end) await life(running, rooms, lives++);
      }),
    );
    // Typing expiry timers run out after TYPING_TTL_MS.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = { retained: await settle(), resources: await resources(), listeners: listeners(app) };

    expect(lives).toBeGreaterThan(100);
    expect(after.retained - baseline.retained).toBeLessThan(RETAINED_MARGIN_BYTES);
    for (const [type, count] of after.resources) expect([type, count]).toEqual([type, Math.min(count, (baseline.resources.get(type) ?? 0) + 1)]);
    expect(after.listeners).toBe(baseline.listeners);
    const fanout = app.get(RoomFanout, { strict: false });
    for (const roomId of rooms) expect(fanout.connections(roomId)).toEqual([]);
  }, 45_000);
});
