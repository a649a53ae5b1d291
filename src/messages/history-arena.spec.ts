import { HistoryArena } from './history-arena.js';

describe(HistoryArena.name, () => {
  const SLAB = 64;

  it('reads back what it wrote, multi-byte characters included', () => {
    const arena = new HistoryArena(SLAB);
    const texts = ['hello', 'naïve café ☕', '👩‍💻 emoji', ''];
    const extents = texts.map((text) => arena.write(text));
    expect(extents.map(({ slab, start, end }) => arena.read(slab, start, end))).toEqual(texts);
  });

  it('packs texts into one slab until it is full, then starts another', () => {
    const arena = new HistoryArena(SLAB);
    const first = arena.write('a'.repeat(40));
    const second = arena.write('b'.repeat(20));
    const third = arena.write('c'.repeat(10));
    expect(second.slab).toBe(first.slab);
    expect(third.slab).not.toBe(first.slab);
    expect(arena.heldBytes).toBe(2 * SLAB);
  });

  it('lets a slab go once every text in it is released, but not the one being filled', () => {
    const arena = new HistoryArena(SLAB);
    const a = arena.write('a'.repeat(40));
    const b = arena.write('b'.repeat(20));
    const c = arena.write('c'.repeat(10));
    arena.release(a.slab);
    expect(arena.heldBytes).toBe(2 * SLAB);
    arena.release(b.slab);
    expect(arena.heldBytes).toBe(SLAB);
    arena.release(c.slab);
    expect(arena.heldBytes).toBe(SLAB);
    // The emptied slab being filled is let go when the next one replaces it.
    arena.write('d'.repeat(60));
    arena.write('e'.repeat(60));
    expect(arena.heldBytes).toBe(2 * SLAB);
  });

  it('gives a text larger than a slab its own, sized to it, and leaves the shared slab being filled', () => {
    const arena = new HistoryArena(SLAB);
    const small = arena.write('s'.repeat(10));
    const large = arena.write('L'.repeat(1000));
    const next = arena.write('n'.repeat(10));
    expect(large.slab).not.toBe(small.slab);
    expect(next.slab).toBe(small.slab);
    expect(arena.heldBytes).toBe(SLAB + 1000);
    arena.release(large.slab);
    expect(arena.heldBytes).toBe(SLAB);
    expect(arena.read(large.slab, large.start, large.end)).toBe('L'.repeat(1000));
  });

  it('finds a needle only within the asked range', () => {
    const arena = new HistoryArena(SLAB);
    const a = arena.write('{"id":"x1"}');
    const b = arena.write('{"id":"x2"}');
    expect(arena.contains(a.slab, a.start, a.end, Buffer.from('"x1"'))).toBe(true);
    expect(arena.contains(a.slab, a.start, a.end, Buffer.from('"x2"'))).toBe(false);
    expect(arena.contains(b.slab, b.start, b.end, Buffer.from('"x2"'))).toBe(true);
  });
});
