// What REDIS_WAIT_REPLICAS costs a message: appends through the real store against a master with
// one replica (both throwaway redis-server processes on this machine), without WAIT and with
// `WAIT 1`, one at a time (latency) and 32 in flight (throughput). Run: `npx tsx bench/redis-wait.ts`.
// On one machine the replica is microseconds away; across a network each acknowledged write
// waits one more round trip to the replica on top of this.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisAnswers, waitFor } from '../scripts/processes.mjs';
import { parseEnvironment } from '../src/config/environment.js';
import { toSettings } from '../src/config/settings.js';
import { RedisMessageStore } from '../src/messages/redis-message.store.js';
import { RedisService } from '../src/redis/redis.service.js';
import { createRooms } from './lib/rooms.js';

const COUNT = 5_000;
const IN_FLIGHT = 32;

// A replica's full sync writes an RDB file into its directory even without `save`.
const dir = mkdtempSync(join(tmpdir(), 'redis-wait-'));

async function redisServer(port: number, ...extra: string[]): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', [...args, ...extra], {
    stdio: 'ignore',
  });
  await waitFor(() => redisAnswers(port), 5000, `redis-server on ${port}`);
  return child;
}

const masterPort = await freePort();
const replicaPort = await freePort();
const processes = [await redisServer(masterPort), await redisServer(replicaPort, '--replicaof', '127.0.0.1', String(masterPort))];

async function measure(replicas: number): Promise<void> {
  // Settings as the service reads them from its environment, so every field the connection code reads is there.
  const settings = toSettings(
    parseEnvironment({
      NODE_ENV: 'test',
      JWT_SECRET: 'x'.repeat(32),
      REDIS_URL: `redis://127.0.0.1:${masterPort}`,
      REDIS_WAIT_REPLICAS: replicas,
      REDIS_WAIT_TIMEOUT_MS: 1000,
      REDIS_KEY_PREFIX: `wait-${replicas}:`,
    }),
  );
  const redis = new RedisService(settings);
  await redis.onModuleInit();
  await waitFor(async () => (await redis.client.wait(1, 100)) === 1, 10_000, 'the replica in sync');
  const store = new RedisMessageStore(redis, 10_000);
  const draft = { room_id: 'r', sender_id: 'a', content: 'x'.repeat(100), message_type: 'text', parent_message_id: null, client_msg_id: null };
  await createRooms(redis, ['r', ...Array.from({ length: IN_FLIGHT }, (_, lane) => `r${lane}`)]);
  for (let i = 0; i < 200; i++) await store.append(draft, 60_000);

  let started = performance.now();
  for (let i = 0; i < COUNT; i++) await store.append(draft, 60_000);
  const latencyUs = ((performance.now() - started) * 1000) / COUNT;

  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      while (next++ < COUNT) await store.append({ ...draft, room_id: `r${lane}` }, 60_000);
    }),
  );
  const perSecond = COUNT / ((performance.now() - started) / 1000);
  console.log(
    `REDIS_WAIT_REPLICAS=${replicas}: ${latencyUs.toFixed(0)} µs per append one at a time, ${perSecond.toFixed(0)} appends/s with ${IN_FLIGHT} in flight`,
  );
  await redis.onApplicationShutdown();
}

try {
  // Each twice, alternating, so warming up and a busy moment do not favour one.
  for (const replicas of [0, 1, 0, 1]) await measure(replicas);
} finally {
  for (const child of processes) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
