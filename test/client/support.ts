// What the client-library and browser suites add to the shared harness: the
// service with a quick heartbeat, and waiting that fails at once when the probe throws.
import type { Environment } from '../../src/config/environment.js';
import { startInstance, type Instance } from '../support/instances.js';

export type Service = Instance;

/** The real application on `port` (a free one by default), with a 1 s heartbeat so the clients notice a dead link quickly. */
export function startService(overrides: Environment = {}, port?: number): Promise<Service> {
  return startInstance({ HEARTBEAT_INTERVAL_MS: 1000, ...overrides }, port);
}

type Falsy = undefined | null | false | 0 | '';

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs` naming `what`; a probe that throws fails at once. */
export async function waitFor<T>(probe: () => T | Falsy | Promise<T | Falsy>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
