import { randomUUID } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import type { Environment } from '../../src/config/environment.js';
import { startApp, type RunningApp } from './app.js';
import { freePort, redisUrl, uniquePrefix } from './redis.js';
import { TEST_SECRET, token } from './tokens.js';
import { TestClient, type Frame } from './ws-client.js';

type Falsy = undefined | null | false;

/** Polls `probe` until it returns a truthy value (which it resolves to), or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | Falsy> | T | Falsy, timeoutMs: number, what = 'condition', everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface Readiness {
  status: number;
  body: { message?: string; status?: string };
}

export async function readiness(http: string): Promise<Readiness> {
  const response = await request(http).get('/health/ready').timeout(2000);
  return { status: response.status, body: response.body as Readiness['body'] };
}

/** Waits until `/health/ready` answers `status` (200 or 503) and returns that answer. */
export function waitReadiness(http: string, status: 200 | 503, timeoutMs = 10_000): Promise<Readiness> {
  return waitFor(
    async () => {
      const answer = await readiness(http);
      return answer.status === status ? answer : undefined;
    },
    timeoutMs,
    `${http}/health/ready answering ${status}`,
  );
}

export interface Cluster {
  readonly instances: RunningApp[];
  readonly redisUrl: string;
  readonly prefix: string;
  /** A client of `user` on instance `index`, closed after the current test. */
  connect(index: number, user: string): Promise<TestClient>;
}

/**
 * `count` instances on one Redis with a key prefix of their own, for the
 * enclosing `describe`; clients opened through it are closed after each test.
 */
export function useCluster(count: number, overrides: Environment | (() => Promise<Environment>) = {}): Cluster {
  const state: { instances: RunningApp[]; url: string; prefix: string } = { instances: [], url: '', prefix: '' };
  const clients: TestClient[] = [];
  beforeAll(async () => {
    const extra = typeof overrides === 'function' ? await overrides() : overrides;
    state.url = typeof extra.REDIS_URL === 'string' ? extra.REDIS_URL : await redisUrl();
    state.prefix = uniquePrefix();
    const env = { ...extra, REDIS_URL: state.url, REDIS_KEY_PREFIX: state.prefix };
    state.instances = await Promise.all(Array.from({ length: count }, () => startApp(env)));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await Promise.all(state.instances.map((instance) => instance.close()));
  });
  return {
    get instances() {
      return state.instances;
    },
    get redisUrl() {
      return state.url;
    },
    get prefix() {
      return state.prefix;
    },
    async connect(index, user) {
      const client = await TestClient.connect(state.instances[index].ws, token(user));
      clients.push(client);
      return client;
    },
  };
}

let refs = 0;

/**
 * Sends `frame` with a fresh `ref` and returns the one frame that answers it
 * (any type: the answer or an `error`), consumed along with earlier frames of its type.
 */
export async function ask(client: TestClient, frame: Record<string, unknown>, timeoutMs = 3000): Promise<Frame> {
  const ref = `ask-${++refs}`;
  client.send({ ...frame, ref });
  const answer = await waitFor(() => client.frames.find((f) => f.ref === ref), timeoutMs, `an answer to ${String(frame.type)}`, 10);
  while ((await client.next(answer.type, 0)) !== answer);
  return answer;
}

/** The seq of each `message` frame. */
export const seqs = (frames: Frame[]): number[] => frames.map((frame) => (frame.message as { seq: number }).seq);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = `${ROOT}dist/main.js`;

/** Builds `dist/` unless `dist/main.js` is already there. */
/** Builds `dist/` when it is missing or older than any file under `src/`. */
export function ensureBuilt(): void {
  if (existsSync(MAIN) && newestSource(join(ROOT, 'src')) <= statSync(MAIN).mtimeMs) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  if (build.status !== 0 || !existsSync(MAIN)) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}

export interface SpawnedInstance {
  http: string;
  ws: string;
  child: ChildProcess;
  /** What the process wrote so far, for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown hook runs, nothing is cleaned up. */
  kill(): Promise<void>;
}

/** Runs `node dist/main.js` as its own process with `env`, and waits until `/health/ready` answers 200. */
export async function spawnInstance(env: Environment, readyWithinMs = 20_000): Promise<SpawnedInstance> {
  const port = await freePort();
  const vars = Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, HOST: '127.0.0.1', ...vars, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const instance: SpawnedInstance = {
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/api/v1/chats/ws`,
    child,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  const died = exited.then(() => {
    throw new Error(`exited early (${child.exitCode ?? child.signalCode})`);
  });
  died.catch(() => undefined);
  try {
    await Promise.race([
      waitFor(async () => (await readiness(instance.http)).status === 200, readyWithinMs, 'the spawned instance ready', 100),
      died,
    ]);
  } catch (error) {
    await instance.kill();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${output}`, { cause: error });
  }
  return instance;
}

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs;
    }),
  );
}

/** A message as the main backend publishes it on a room's channel (PROTOCOL §6): no epoch of ours. */
export function backendMessage(roomId: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    message_id: randomUUID(),
    room_id: roomId,
    sender_id: 'backend-user',
    message_type: 'text',
    content,
    attachments: null,
    parent_message_id: null,
    thread_count: 0,
    reactions: [],
    is_edited: false,
    is_deleted: false,
    created_at: now,
    updated_at: now,
    ...extra,
  };
}
