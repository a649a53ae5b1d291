// Redis for the benchmark: a unique key prefix per target (only our own keys
// are read or deleted), and what one message costs there, from
// `INFO commandstats` / `INFO cpu` deltas around a measured step. Those
// counters are server-wide, so by default the benchmark runs a Redis of its
// own, where every command counted is the benchmark's.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export function connect(url) {
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/**
 * `REDIS_URL` when set (a shared Redis: its counters include other clients);
 * otherwise a throwaway `redis-server` without persistence on a free port;
 * without one installed, the local default.
 */
export async function startRedis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, own: false, stop: async () => undefined };
  if (spawnSync('redis-server', ['--version']).error) {
    return { url: 'redis://127.0.0.1:6379', own: false, stop: async () => undefined };
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  // Commands wait in ioredis's queue while it retries the connection.
  const probe = new Redis(url, { retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  try {
    await Promise.race([
      probe.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('redis-server did not start')), 5000)),
    ]);
  } catch (error) {
    probe.disconnect();
    child.kill('SIGKILL');
    throw error;
  }
  probe.disconnect();
  return {
    url,
    own: true,
    stop: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }),
  };
}

export function uniquePrefix(label) {
  return `bench:${randomUUID().slice(0, 8)}:${label}:`;
}

/** Deletes every key under `prefix` (and nothing else). */
export async function deletePrefix(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function snapshot(redis) {
  const [commands, cpu] = await Promise.all([redis.info('commandstats'), redis.info('cpu')]);
  const stats = {};
  for (const [, name, calls, usec] of commands.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    stats[name] = { calls: Number(calls), usec: Number(usec) };
  }
  const seconds = (field) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { stats, cpuSeconds: seconds('used_cpu_user') + seconds('used_cpu_sys') };
}

/** `const done = await commandCost(redis); …step…; await done(messages)` → per-message Redis cost. */
export async function commandCost(redis) {
  const before = await snapshot(redis);
  return async (messages) => {
    const after = await snapshot(redis);
    const perMessage = {};
    for (const [name, { calls, usec }] of Object.entries(after.stats)) {
      const callDelta = calls - (before.stats[name]?.calls ?? 0);
      if (callDelta <= 0 || name === 'info') continue;
      const usecDelta = usec - (before.stats[name]?.usec ?? 0);
      perMessage[name] = {
        callsPerMessage: round(callDelta / messages, 2),
        usecPerCall: round(usecDelta / callDelta, 2),
        usecPerMessage: round(usecDelta / messages, 2),
      };
    }
    return { redisCpuUsecPerMessage: round(((after.cpuSeconds - before.cpuSeconds) * 1e6) / messages, 1), commands: perMessage };
  };
}

/** Round-trip time of one command from this process, µs (median of sequential PINGs). */
export async function roundTrip(redis, count = 500) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await redis.ping();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return round(times[Math.floor(count / 2)] * 1000, 1);
}

export const round = (value, digits) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
