/**
 * Exponential backoff with full jitter: a random delay between 0 and
 * min(max, base · 2^attempt), so clients cut off together do not return together.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
