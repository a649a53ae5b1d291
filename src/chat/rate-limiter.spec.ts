import { ByteBudget, RateLimiter, type RateVerdict } from './rate-limiter.js';

const PER_SECOND = 20;
const BURST = 40;

function takeMany(limiter: RateLimiter, count: number, now: number): RateVerdict[] {
  return Array.from({ length: count }, () => limiter.take(now));
}

/** Sends `perSecond` frames evenly spread over [from, to) and returns every verdict with its time. */
function send(limiter: RateLimiter, from: number, to: number, perSecond: number): { at: number; verdict: RateVerdict }[] {
  const step = 1000 / perSecond;
  const verdicts: { at: number; verdict: RateVerdict }[] = [];
  for (let i = 0; from + i * step < to; i++) {
    const at = Math.round(from + i * step);
    verdicts.push({ at, verdict: limiter.take(at) });
  }
  return verdicts;
}

const firstAbuse = (verdicts: { at: number; verdict: RateVerdict }[]) => verdicts.find((v) => v.verdict === 'abuse')?.at;

describe(RateLimiter.name, () => {
  describe('burst', () => {
    it('accepts a full burst at once, then drops and tells once', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      expect(takeMany(limiter, BURST, 0)).toEqual(Array(BURST).fill('ok'));
      expect(limiter.take(0)).toBe('drop_and_tell');
      expect(takeMany(limiter, 5, 0)).toEqual(Array(5).fill('drop'));
    });

    it('does not accept more than the burst after a long idle time', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      const verdicts = takeMany(limiter, BURST + 1, 60_000);

      expect(verdicts.filter((v) => v === 'ok')).toHaveLength(BURST);
      expect(verdicts[BURST]).toBe('drop_and_tell');
    });
  });

  describe('telling the client', () => {
    it('tells at most once per second while frames keep being dropped', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);
      takeMany(limiter, BURST, 0);

      const verdicts = send(limiter, 0, 3000, 100);
      const tells = verdicts.filter((v) => v.verdict === 'drop_and_tell').map((v) => v.at);

      expect(tells).toHaveLength(3);
      expect(tells[0]).toBe(0);
      for (let i = 1; i < tells.length; i++) expect(tells[i] - tells[i - 1]).toBeGreaterThanOrEqual(1000);
      expect(verdicts.filter((v) => v.verdict === 'drop').length).toBeGreaterThan(0);
    });

    it('tells again on the first drop a second or more after the last tell', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);
      takeMany(limiter, BURST, 0);
      expect(limiter.take(0)).toBe('drop_and_tell');

      expect(takeMany(limiter, PER_SECOND - 1, 999)).toEqual(Array(PER_SECOND - 1).fill('ok'));
      expect(limiter.take(999)).toBe('drop');

      takeMany(limiter, PER_SECOND, 1999);
      expect(limiter.take(1999)).toBe('drop_and_tell');
    });
  });

  describe('refill', () => {
    it('refills at the sustained rate', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);
      takeMany(limiter, BURST, 0);

      const half = takeMany(limiter, PER_SECOND / 2 + 1, 500);
      expect(half.slice(0, PER_SECOND / 2)).toEqual(Array(PER_SECOND / 2).fill('ok'));
      expect(half[PER_SECOND / 2]).not.toBe('ok');

      const full = takeMany(limiter, PER_SECOND + 1, 1500);
      expect(full.slice(0, PER_SECOND)).toEqual(Array(PER_SECOND).fill('ok'));
      expect(full[PER_SECOND]).not.toBe('ok');
    });

    it('lets a client sending at the sustained rate through indefinitely', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      const verdicts = send(limiter, 0, 60_000, PER_SECOND);

      expect(verdicts.every((v) => v.verdict === 'ok')).toBe(true);
    });
  });

  describe('abuse', () => {
    it('is declared once ten consecutive seconds ran at five times the rate', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      const verdicts = send(limiter, 0, 11_000, PER_SECOND * 5);

      expect(verdicts.filter((v) => v.at < 10_000).map((v) => v.verdict)).not.toContain('abuse');
      const at = firstAbuse(verdicts);
      expect(at).toBeGreaterThanOrEqual(10_000);
      expect(at).toBeLessThan(11_000);
    });

    it('keeps answering abuse once declared while the flood goes on', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);
      send(limiter, 0, 10_500, PER_SECOND * 5);

      expect(limiter.take(10_500)).toBe('abuse');
    });

    it('is not declared just below five times the rate', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);
      const verdicts: RateVerdict[] = [];
      for (let second = 0; second < 30; second++) {
        for (let i = 0; i < PER_SECOND * 5 - 1; i++) verdicts.push(limiter.take(second * 1000 + i * 10));
      }

      expect(verdicts).not.toContain('abuse');
      expect(verdicts).toContain('drop');
    });

    it('is not declared for fewer than ten seconds of flooding', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      const flood = send(limiter, 0, 9_000, PER_SECOND * 5);
      const after = send(limiter, 12_000, 40_000, PER_SECOND);

      expect(firstAbuse(flood)).toBeUndefined();
      expect(firstAbuse(after)).toBeUndefined();
    });

    it('starts counting again after a quiet second', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      const before = send(limiter, 0, 9_000, PER_SECOND * 5);
      const after = send(limiter, 10_000, 21_000, PER_SECOND * 5);

      expect(firstAbuse(before)).toBeUndefined();
      expect(after.filter((v) => v.at < 20_000).map((v) => v.verdict)).not.toContain('abuse');
      expect(firstAbuse(after)).toBeGreaterThanOrEqual(20_000);
    });

    it('starts counting again after a second below five times the rate', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      const before = send(limiter, 0, 9_000, PER_SECOND * 5);
      const slow = send(limiter, 9_000, 10_000, PER_SECOND);
      const after = send(limiter, 10_000, 21_000, PER_SECOND * 5);

      expect(firstAbuse(before)).toBeUndefined();
      expect(firstAbuse(slow)).toBeUndefined();
      expect(after.filter((v) => v.at < 20_000).map((v) => v.verdict)).not.toContain('abuse');
      expect(firstAbuse(after)).toBeGreaterThanOrEqual(20_000);
    });

    it('is forgotten when a flooding client goes quiet before being caught', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);
      send(limiter, 0, 9_500, PER_SECOND * 5);

      expect(limiter.take(30_000)).toBe('ok');
    });
  });

  describe('bytes', () => {
    it('takes frames while their bytes fit the byte burst, then refills at the byte rate', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0, undefined, new ByteBudget(1_000, 2_000, 0));

      expect([limiter.take(0, 900), limiter.take(0, 900), limiter.take(0, 900)]).toEqual(['ok', 'ok', 'drop_and_tell']);
      // 200 bytes left: a small frame still passes, and a dropped frame costs nothing.
      expect(limiter.take(0, 200)).toBe('ok');
      expect(limiter.take(500, 900)).toBe('drop');
      expect(limiter.take(900, 900)).toBe('ok');
    });

    it('is one budget for the connections that share it: a second connection does not add to a user’s bytes', () => {
      const shared = new ByteBudget(1_000, 2_000, 0);
      const [first, second] = [new RateLimiter(PER_SECOND, BURST, 0, undefined, shared), new RateLimiter(PER_SECOND, BURST, 0, undefined, shared)];

      expect([first.take(0, 1_500), second.take(0, 1_500), second.take(0, 500)]).toEqual(['ok', 'drop_and_tell', 'ok']);
      // A frame a connection dropped for its own frame rate takes none of the shared bytes.
      expect(second.take(1_000, 1_000)).toBe('ok');
    });

    it('never closes for bytes: frames over the byte budget are dropped, however many', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0, undefined, new ByteBudget(1_000, 2_000, 0));
      // The frame rate, with ten times the byte rate in it, for 20 s: the burst and what 19.95 s refill pass.
      const verdicts = Array.from({ length: 400 }, (_, i) => limiter.take(i * 50, 500));

      expect(verdicts).not.toContain('abuse');
      expect(verdicts.filter((v) => v === 'ok').length).toBe(Math.floor((2_000 + 19_950) / 500));
    });

    it('counts no bytes when given no byte budget', () => {
      const limiter = new RateLimiter(PER_SECOND, BURST, 0);

      expect([limiter.take(0, 1 << 30), limiter.take(1, 1 << 30)]).toEqual(['ok', 'ok']);
    });
  });
});
