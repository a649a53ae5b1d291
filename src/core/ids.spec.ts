import { heapAfterGc } from '../../test/support/gc.js';
import { ROOM_ID_PATTERN, newId } from './ids.js';

describe('newId', () => {
  it('is a lowercase UUID, different each time', () => {
    const ids = Array.from({ length: 1000 }, newId);
    expect(ids.every((id) => ROOM_ID_PATTERN.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is a random (version 4, RFC 4122 variant) UUID, across refills of its random pool', () => {
    const ids = Array.from({ length: 1000 }, newId);
    expect(ids.filter((id) => !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))).toEqual([]);
    // Every hex digit turns up in every free position: nothing stuck from one id to the next.
    for (const at of [0, 7, 15, 20, 35]) expect(new Set(ids.map((id) => id[at])).size).toBe(16);
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
