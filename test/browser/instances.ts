// Service instances for the browser suites: the built demo page, and the
// service as its own process (`node dist/main.js`) where a test kills it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, SECRET, waitFor } from '../client/support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'main.js');

/** Bundles the demo page (a fraction of a second), so the page under test is the current source. */
export function buildDemo(): void {
  const result = spawnSync(process.execPath, [join(ROOT, 'client/demo/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the demo bundle failed:\n${result.stderr}`);
}

/** `npm run build` when dist/main.js is missing or older than a source file. */
export function ensureBuilt(): void {
  if (existsSync(MAIN) && newest(join(ROOT, 'src')) <= statSync(MAIN).mtimeMs) return;
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  if (result.status !== 0) throw new Error(`npm run build failed:\n${result.stdout}\n${result.stderr}`);
}

function newest(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
    ),
  );
}

/** The settings every demo instance of these suites runs with. */
export const DEMO_ENV = {
  NODE_ENV: 'development',
  JWT_SECRET: SECRET,
  DEMO_ENABLED: 'true',
  CORS_ORIGINS: '*',
  HEARTBEAT_INTERVAL_MS: 1000,
} as const;

export interface Process {
  port: number;
  url: string;
  kill(): Promise<void>;
}

/** `node dist/main.js` with `env`, ready once `/health/ready` answers 200. */
export async function spawnService(env: Record<string, string | number>): Promise<Process> {
  const port = await freePort();
  const vars = Object.fromEntries(Object.entries({ ...DEMO_ENV, ...env }).map(([k, v]) => [k, String(v)]));
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', ...vars, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      return (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200;
    }, 'the spawned service ready', 20_000);
  } catch (error) {
    await kill();
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
  return { port, url, kill };
}
