import { isoMillis, isoTime } from './iso-time.js';

describe('isoTime', () => {
  it('writes every time as toISOString does, within a second, across seconds, days and years', () => {
    const start = Date.parse('2026-12-31T23:59:58.990Z');
    for (let at = start; at < start + 2_500; at += 7) expect(isoTime(at)).toBe(new Date(at).toISOString());
  });

  it('writes a time of an earlier second after a later one, and times outside four-digit years', () => {
    isoTime(Date.parse('2026-06-01T10:00:05.500Z'));
    for (const at of [Date.parse('2026-06-01T10:00:04.005Z'), 0, -1, -1_001, 253_402_300_800_123, -62_198_755_200_001]) {
      expect(isoTime(at)).toBe(new Date(at).toISOString());
    }
  });
});

describe('isoMillis', () => {
  it('reads every time as Date.parse does, within a second, across seconds and days', () => {
    const start = Date.parse('2026-12-31T23:59:58.990Z');
    for (let at = start; at < start + 2_500; at += 7) {
      const text = new Date(at).toISOString();
      expect(isoMillis(text)).toBe(Date.parse(text));
    }
  });

  it('reads a time of an earlier second after a later one', () => {
    isoMillis('2026-06-01T10:00:05.500Z');
    expect(isoMillis('2026-06-01T10:00:04.250Z')).toBe(Date.parse('2026-06-01T10:00:04.250Z'));
    expect(isoMillis('2026-06-01T10:00:05.001Z')).toBe(Date.parse('2026-06-01T10:00:05.001Z'));
  });

  it('takes any other text to Date.parse, and what is not a time is NaN', () => {
    isoMillis('2026-06-01T10:00:05.500Z');
    // Same second, but not the toISOString form: never read as its milliseconds.
    expect(isoMillis('2026-06-01T10:00:05.5x0Z')).toBeNaN();
    expect(isoMillis('2026-06-01T10:00:05+01:00')).toBe(Date.parse('2026-06-01T10:00:05+01:00'));
    expect(isoMillis('2026-06-01T10:00:05.123+0')).toBe(Date.parse('2026-06-01T10:00:05.123+0'));
    expect(isoMillis('not a time at all, 24 ch')).toBeNaN();
    expect(isoMillis('')).toBeNaN();
  });
});
