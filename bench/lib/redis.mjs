// Redis for the benchmark: a unique key prefix per target (only our own keys
// are read or deleted), and what one message costs there, from
// `INFO commandstats` / `INFO cpu` deltas around a measured step. Those
// counters are server-wide, so by default the benchmark runs a Redis of its
// own, where every command counted is the benchmark's.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * A throwaway Redis Cluster of `masters` masters and no replicas (no
 * persistence, free ports): `{ seeds: 'host:port,…', urls, stop }`.
 */
export async function startCluster(masters = 3) {
  if (spawnSync('redis-cli', ['--version']).error || spawnSync('redis-server', ['--version']).error) {
    throw new Error('the cluster scenario needs redis-server and redis-cli (apt-get install redis-server redis-tools)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const ports = [];
  // Each node's cluster bus listens on port + 10000.
  while (ports.length < masters) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && !ports.some((p) => Math.abs(p - port) === 10_000 || p === port)) ports.push(port);
  }
  const children = ports.map((port) =>
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }),
  );
  const stop = async () => {
    await Promise.all(children.map((child) => (child.exitCode !== null ? undefined : new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }))));
    rmSync(dir, { recursive: true, force: true });
  };
  const urls = ports.map((port) => `redis://127.0.0.1:${port}`);
  try {
    for (const url of urls) {
      const probe = new Redis(url, { retryStrategy: () => 50 });
      probe.on('error', () => undefined);
      await probe.ping().finally(() => probe.disconnect());
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const url of urls) {
      const node = new Redis(url);
      for (let i = 0; !(await node.cluster('INFO')).includes('cluster_state:ok'); i++) {
        if (i > 100) throw new Error(`${url}: the cluster did not become ok`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      node.disconnect();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { seeds: ports.map((port) => `127.0.0.1:${port}`).join(','), urls, own: true, stop };
}

export function uniquePrefix(label) {
  return `bench:${randomUUID().slice(0, 8)}:${label}:`;
}

/** Deletes every key under `prefix` (and nothing else). */
export async function deletePrefix(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    // One key per command: on a cluster node one command's keys must share a slot.
    await Promise.all(keys.map((key) => redis.unlink(key)));
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

/**
 * `const done = await commandCost(redis); …step…; await done(messages)` →
 * per-message Redis cost. `redis` is one connection or, for a cluster, one
 * per master: commands and CPU are summed over them, and
 * `busiestCpuUsecPerMessage` is the CPU per message of the busiest one
 * (the Redis process that bounds throughput). The `Net` figures leave out
 * what the processes spent idle (measured for `idleMs` first, then scaled
 * to the step's length): on a cluster each process has a background of its own.
 */
export async function commandCost(redis, { idleMs = 2000 } = {}) {
  const nodes = Array.isArray(redis) ? redis : [redis];
  // What each Redis process spends with no messages (its cron, a cluster's bus, the instances'
  // heartbeats), per millisecond: subtracted for the net figures, since it is not a per-message cost.
  const idleStart = await Promise.all(nodes.map(snapshot));
  const idleStartedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  const before = await Promise.all(nodes.map(snapshot));
  const startedAt = performance.now();
  const idlePerMs = before.map((node, i) => ((node.cpuSeconds - idleStart[i].cpuSeconds) * 1e6) / (startedAt - idleStartedAt));
  return async (messages) => {
    const after = await Promise.all(nodes.map(snapshot));
    const elapsedMs = performance.now() - startedAt;
    const totals = {};
    for (const [i, node] of after.entries()) {
      for (const [name, { calls, usec }] of Object.entries(node.stats)) {
        const total = (totals[name] ??= { calls: 0, usec: 0 });
        total.calls += calls - (before[i].stats[name]?.calls ?? 0);
        total.usec += usec - (before[i].stats[name]?.usec ?? 0);
      }
    }
    const perMessage = {};
    for (const [name, { calls, usec }] of Object.entries(totals)) {
      if (calls <= 0 || name === 'info' || name === 'cluster') continue;
      perMessage[name] = {
        callsPerMessage: round(calls / messages, 2),
        usecPerCall: round(usec / calls, 2),
        usecPerMessage: round(usec / messages, 2),
      };
    }
    const cpu = after.map((node, i) => ((node.cpuSeconds - before[i].cpuSeconds) * 1e6) / messages);
    const net = cpu.map((c, i) => Math.max(0, c - (idlePerMs[i] * elapsedMs) / messages));
    const sum = (values) => values.reduce((total, value) => total + value, 0);
    return {
      redisCpuUsecPerMessage: round(sum(cpu), 1),
      busiestCpuUsecPerMessage: round(Math.max(...cpu), 1),
      perNodeCpuUsecPerMessage: cpu.map((c) => round(c, 1)),
      redisNetCpuUsecPerMessage: round(sum(net), 1),
      busiestNetCpuUsecPerMessage: round(Math.max(...net), 1),
      idleCpuPercent: round(sum(idlePerMs) / 10, 2),
      commands: perMessage,
    };
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
