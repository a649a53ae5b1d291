// Starting the measured servers and the load generator as separate processes:
// servers pinned to core 0, the generator to core 1 (where `taskset` exists),
// each with the file-descriptor limit raised to the hard limit.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { hasTaskset } from './system.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PINNED = hasTaskset();
export const SECRET = `bench-secret-${randomUUID()}`;

/** The command line of a node process on `core` (any core when `core` is undefined), with `ulimit -n` raised first. */
function command(core, nodeArgs) {
  const node = [process.execPath, ...nodeArgs];
  const argv = PINNED && core !== undefined ? ['taskset', '-c', String(core), ...node] : node;
  return ['/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...argv]];
}

/** The service's settings for a benchmark: production mode, limits raised so they never cap the load. */
function serviceEnv(redis, deflate) {
  return {
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: SECRET,
    CORS_ORIGINS: '*',
    RATE_LIMIT_PER_SECOND: '10000',
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_BYTES_PER_SECOND: '1073741824',
    REST_RATE_LIMIT_PER_MINUTE: '10000000',
    MAX_CONNECTIONS: '100000',
    MAX_HTTP_SOCKETS: '110000',
    MAX_HTTP_SOCKETS_PER_ADDRESS: '110000',
    MAX_CONNECTIONS_PER_USER: '1000',
    MAX_ROOMS_PER_CONNECTION: '1000',
    MAX_MEMBERS_PER_ROOM: '100000',
    ROOMS_CREATED_PER_MINUTE: '1000000',
    WS_PERMESSAGE_DEFLATE: deflate ? 'true' : 'false',
    ...(redis?.clusterNodes ? { REDIS_CLUSTER_NODES: redis.clusterNodes, REDIS_KEY_PREFIX: redis.prefix } : {}),
    ...(redis?.url ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix } : {}),
  };
}

function baselineEnv(redis, deflate) {
  return {
    PORT: '0',
    JWT_SECRET: SECRET,
    PERMESSAGE_DEFLATE: deflate ? '1' : '0',
    ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix } : {}),
  };
}

/**
 * A `--variant`: space-separated `NAME=value` settings (environment) and
 * `--flags` (node), e.g. `HISTORY_MAX_PER_ROOM=1 --max-semi-space-size=32`.
 */
export function parseVariant(text) {
  const env = {};
  const nodeArgs = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const setting = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(word);
    if (setting) env[setting[1]] = setting[2];
    else if (word.startsWith('--')) nodeArgs.push(word);
    else throw new Error(`--variant: "${word}" is neither NAME=value nor a --flag`);
  }
  return { env, nodeArgs };
}

/** Starts one server process and resolves with its pid and base URL once it listens. */
function startServer({ script, env, nodeArgs = [], pinned = true }) {
  const [file, args] = command(pinned ? 0 : undefined, [...nodeArgs, script]);
  const child = spawn(file, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = [];
  const keep = (chunk) => {
    tail.push(chunk.toString());
    if (tail.length > 20) tail.shift();
  };
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${tail.join('')}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${tail.join('')}`));
    });
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      // The service logs its address as JSON ("address"); the baseline prints "Listening on".
      const match = /Listening on (http:\/\/[\d.]+:\d+)|"address":"(http:\/\/[\d.]+:\d+)"/.exec(tail.join(''));
      const url = match?.[1] ?? match?.[2];
      if (url) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, pid: child.pid, url });
      }
    });
  });
}

/** Waits for the service's readiness (on Redis: connected and subscribed). */
async function ready(url) {
  for (const started = Date.now(); Date.now() - started < 20_000; ) {
    const response = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become ready`);
}

function stop(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * A measured target: `kind` 'service' (the built dist/main.js) or 'baseline'
 * (bench/baseline/server.mjs), `instances` processes, on Redis when `redis`
 * is { url, prefix }. `deflate` turns permessage-deflate on, with the
 * service's default deflate settings on both. `variant` ({ env, nodeArgs },
 * see parseVariant) changes the service's settings and node flags.
 * `profileDir` runs the service under --cpu-prof, not pinned: on one core the
 * profiler's sampling thread waits while the server runs, and its samples
 * land mostly where the server was idle.
 */
export async function startTarget({ kind, instances = 1, redis, deflate = false, variant, profileDir }) {
  const spec =
    kind === 'service'
      ? {
          script: 'dist/main.js',
          env: { ...serviceEnv(redis, deflate), ...variant?.env },
          nodeArgs: [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), ...(variant?.nodeArgs ?? [])],
          pinned: !profileDir,
        }
      : { script: 'bench/baseline/server.mjs', env: baselineEnv(redis, deflate) };
  const servers = [];
  try {
    for (let i = 0; i < instances; i++) servers.push(await startServer(spec));
    if (kind === 'service') await Promise.all(servers.map((s) => ready(s.url)));
  } catch (error) {
    await Promise.all(servers.map((s) => stop(s.child)));
    throw error;
  }
  return {
    kind,
    pids: servers.map((s) => s.pid),
    httpUrls: servers.map((s) => s.url),
    wsUrls: servers.map((s) => `${s.url.replace('http://', 'ws://')}/api/v1/chats/ws`),
    stop: () => Promise.all(servers.map((s) => stop(s.child))),
  };
}

/** The load generator on core 1, with a promise-returning `call(command, args)`. */
export function startGenerator() {
  const [file, args] = command(1, [fileURLToPath(new URL('../load/generator.mjs', import.meta.url))]);
  const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let next = 0;
  child.on('message', ({ id, result, error }) => {
    const { resolve, reject } = pending.get(id);
    pending.delete(id);
    if (error) reject(new Error(`load generator: ${error}`));
    else resolve(result);
  });
  child.on('exit', (code) => {
    for (const { reject } of pending.values()) reject(new Error(`load generator exited with ${code}`));
  });
  return {
    pid: child.pid,
    call(command, args) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, command, args });
      });
    },
    stop: () => stop(child, 2000),
  };
}
