// What the browser suites add to the shared harness: the built demo page,
// and the demo's settings for instances in processes of their own.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Environment } from '../../src/config/environment.js';
import { spawnInstance } from '../support/spawned.js';
import { TEST_SECRET } from '../support/tokens.js';

export { ensureBuilt } from '../support/spawned.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Bundles the demo page (a fraction of a second), so the page under test is the current source. */
export function buildDemo(): void {
  const result = spawnSync(process.execPath, [join(ROOT, 'client/demo/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the demo bundle failed:\n${result.stderr}`);
}

/** The settings every demo instance of these suites runs with. */
export const DEMO_ENV = {
  NODE_ENV: 'development',
  JWT_SECRET: TEST_SECRET,
  DEMO_ENABLED: 'true',
  CORS_ORIGINS: '*',
  HEARTBEAT_INTERVAL_MS: 1000,
} as const;

export interface Process {
  port: number;
  url: string;
  kill(): Promise<void>;
}

/** `node dist/main.js` with the demo's settings and `env`, ready once `/health/ready` answers 200. */
export async function spawnService(env: Environment): Promise<Process> {
  const instance = await spawnInstance({ ...DEMO_ENV, ...env });
  return { port: Number(new URL(instance.http).port), url: instance.http, kill: () => instance.kill() };
}
