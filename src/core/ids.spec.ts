import { heapAfterGc } from '../../test/support/gc.js';
import { ROOM_ID_PATTERN, newId } from './ids.js';

describe('newId', () => {
  it('is a lowercase UUID, different each time', () => {
    const ids = Array.from({ length: 1000 }, newId);
    expect(ids.every((id) => ROOM_ID_PATTERN.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  // Every message, connection and slot keeps its id; held as pieces, one costs about 490 bytes.
  it('holds an id as one flat string of about 64 bytes', () => {
    const count = 20_000;
    const before = heapAfterGc();
    const ids = Array.from({ length: count }, newId);
    const perId = (heapAfterGc() - before) / count;
    expect(ids).toHaveLength(count);
    expect(perId).toBeLessThan(150);
  });
});
