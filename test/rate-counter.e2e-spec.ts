// The shared fixed-window counters on the tests' Redis: a hit given back goes to its own window only.
import { UNHIT } from '../src/limits/limit.scripts.js';
import { RateCounter } from '../src/limits/rate-counter.js';
import { LimitKeys } from '../src/redis/limit-keys.js';
import type { RedisService } from '../src/redis/redis.service.js';
import { redisService, uniquePrefix } from './support/redis.js';
import { testSettings } from './support/settings.js';

describe('RateCounter on Redis', () => {
  const prefix = uniquePrefix();
  const keys = new LimitKeys(prefix);
  let redis: RedisService;
  let counter: RateCounter;

  beforeAll(async () => {
    redis = await redisService(prefix);
    counter = new RateCounter(redis, testSettings({ REDIS_KEY_PREFIX: prefix }));
  });
  afterAll(() => redis.onApplicationShutdown());

  it('gives a hit back in Redis, never below zero', async () => {
    const subject = { user: 'alice' };
    const first = await counter.hit('guess', subject, 1, 60_000);
    expect(first).toMatchObject({ allowed: true, countedIn: 'redis' });
    expect((await counter.hit('guess', subject, 1, 60_000)).allowed).toBe(false);
    await counter.release('guess', subject, first);
    await counter.release('guess', subject, first);
    await counter.release('guess', subject, first);
    expect(await redis.client.get(keys.rate('guess', subject))).toBe('0');
    expect((await counter.hit('guess', subject, 1, 60_000)).allowed).toBe(true);
    expect((await counter.hit('guess', subject, 1, 60_000)).allowed).toBe(false);
  });

  it('gives nothing back to a window that has ended, or to the next one', async () => {
    const subject = { user: 'bob' };
    const key = keys.rate('guess', subject);
    // Its window ends within a second: what is given back could land in the next one.
    const short = await counter.hit('guess', subject, 1, 500);
    await redis.client.pexpire(key, 60_000);
    await counter.release('guess', subject, short);
    expect(await redis.client.get(key)).toBe('1');
    // The script itself starts no window (a DECR would, without end) and leaves a counter with no expiry alone.
    await redis.client.del(key);
    await redis.run(UNHIT, [key], []);
    expect(await redis.client.exists(key)).toBe(0);
    await redis.client.set(key, '3');
    await redis.run(UNHIT, [key], []);
    expect(await redis.client.get(key)).toBe('3');
  });
});
