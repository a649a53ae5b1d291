import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../scripts/processes.mjs';
import type { Environment } from '../../src/config/environment.js';
import { readiness } from './instances.js';
import { TEST_SECRET } from './tokens.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = `${ROOT}dist/main.js`;

/** Builds `dist/` when it is missing or older than any file under `src/`. */
export function ensureBuilt(): void {
  if (existsSync(MAIN) && newestSource(join(ROOT, 'src')) <= statSync(MAIN).mtimeMs) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  if (build.status !== 0 || !existsSync(MAIN)) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}

/** An instance in a process of its own (`node dist/main.js`), for tests of signals and crashes. */
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

/** Runs `node dist/main.js` with `env` until it exits by itself (a start that fails): its exit code and output. */
export function runUntilExit(env: Record<string, string>, timeoutMs = 20_000): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, HOST: '127.0.0.1', PORT: '0', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs;
    }),
  );
}
