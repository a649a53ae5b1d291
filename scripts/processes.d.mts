type Falsy = undefined | null | false | 0 | '';

/** A port on `host` (default 127.0.0.1) that was free a moment ago. */
export function freePort(host?: string): Promise<number>;

/**
 * Polls `probe` until it returns a truthy value (which it resolves to); a
 * probe that throws counts as not yet. Fails after `timeoutMs` naming `what`.
 */
export function waitFor<T>(probe: () => Promise<T | Falsy> | T | Falsy, timeoutMs: number, what?: string, everyMs?: number): Promise<T>;

/** Whether a Redis answers PING on `host:port` (default 127.0.0.1) within a second. */
export function redisAnswers(port: number, host?: string): Promise<boolean>;
