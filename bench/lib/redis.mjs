// Redis for the benchmark: a unique key prefix per target on the configured
// Redis (shared safely: only our own keys are read or deleted), and what one
// message costs there, from `INFO commandstats` / `INFO cpu` deltas around a
// measured step. The counters are server-wide, so other clients' commands in
// the same seconds would show up too; on a quiet Redis they are ours.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

export function connect() {
  return new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
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
