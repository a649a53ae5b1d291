import { MemoryRateCounter } from './rate-counter.js';

describe(MemoryRateCounter.name, () => {
  it('allows `limit` hits per window, tells how long until the window ends, and starts afresh after it', () => {
    const counter = new MemoryRateCounter();
    const verdicts = Array.from({ length: 4 }, (_, i) => counter.hit('alice', 3, 60_000, 1_000 + i));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false]);
    expect(verdicts[3].retryAfterMs).toBe(60_000 - 3);
    expect(counter.hit('bob', 3, 60_000, 1_004).allowed).toBe(true);
    expect(counter.hit('alice', 3, 60_000, 61_000).allowed).toBe(true);
  });

  it('gives a hit back to its own window only, never below zero', () => {
    const counter = new MemoryRateCounter();
    const first = counter.hit('alice', 1, 60_000, 0);
    expect(first).toEqual({ allowed: true, retryAfterMs: 60_000, countedIn: 'local', windowEndsAt: 60_000 });
    counter.release('alice', first.windowEndsAt);
    counter.release('alice', first.windowEndsAt);
    expect(counter.hit('alice', 1, 60_000, 3).allowed).toBe(true);
    expect(counter.hit('alice', 1, 60_000, 4).allowed).toBe(false);
    // The next window: a hit of the one before is not given back to it.
    const next = counter.hit('alice', 1, 60_000, 60_001);
    expect(next.allowed).toBe(true);
    counter.release('alice', first.windowEndsAt);
    counter.release('nobody', first.windowEndsAt);
    expect(counter.hit('alice', 1, 60_000, 60_002).allowed).toBe(false);
  });

  it('keeps at most 50,000 subjects, forgetting the oldest first', () => {
    const counter = new MemoryRateCounter();
    for (let i = 0; i < 60_000; i++) counter.hit(`address-${i}`, 1, 60_000, 0);
    expect(counter.size).toBe(50_000);
    expect(counter.hit('address-59999', 1, 60_000, 1).allowed).toBe(false);
    expect(counter.hit('address-0', 1, 60_000, 1).allowed).toBe(true);
  });
});
