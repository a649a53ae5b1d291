/**
 * Serialized messages kept outside the JavaScript heap, packed into shared
 * buffers ("slabs") and addressed by slab and byte range.
 *
 * Why: a history of hundreds of thousands of message objects is what a major
 * garbage collection has to mark, and on one core the event loop waits while
 * it does (hundreds of milliseconds at a 256 MB history). A slab is one
 * object to the collector however many messages it holds, and a message
 * appended here leaves nothing behind on the heap to be promoted.
 *
 * A slab is let go once every message written to it was released, so what
 * the arena holds (`heldBytes`) is what its owner must bound: releasing the
 * oldest messages first frees the oldest slabs first.
 */
export class HistoryArena {
  private current: Slab | undefined;
  private held = 0;

  /** `slabBytes`: the size of a shared slab; a larger message gets a slab of its own. */
  constructor(private readonly slabBytes: number) {}

  /** Bytes of every slab still holding a message (the one being filled counts whole). */
  get heldBytes(): number {
    return this.held;
  }

  /** Writes `text` (UTF-8) and returns where it lives. */
  write(text: string): Extent {
    const length = Buffer.byteLength(text);
    // A message larger than a shared slab gets one of its own; the shared one stays as it was.
    const slab = length > this.slabBytes ? this.newSlab(length) : this.sharedSlabFor(length);
    const start = slab.used;
    slab.bytes.write(text, start, length, 'utf8');
    slab.used += length;
    slab.live += 1;
    return { slab, start, end: start + length };
  }

  read(slab: Slab, start: number, end: number): string {
    return slab.bytes.toString('utf8', start, end);
  }

  /** Whether the bytes from `start` to `end` contain `needle` (a cheap filter before decoding). */
  contains(slab: Slab, start: number, end: number, needle: Buffer): boolean {
    return slab.bytes.subarray(start, end).includes(needle);
  }

  /** Forgets one written text; its slab goes once it holds no other. */
  release(slab: Slab): void {
    slab.live -= 1;
    if (slab.live === 0 && slab !== this.current) this.held -= slab.bytes.length;
  }

  private sharedSlabFor(length: number): Slab {
    const current = this.current;
    if (current && current.used + length <= current.bytes.length) return current;
    if (current && current.live === 0) this.held -= current.bytes.length;
    return (this.current = this.newSlab(this.slabBytes));
  }

  private newSlab(size: number): Slab {
    this.held += size;
    return { bytes: Buffer.allocUnsafeSlow(size), used: 0, live: 0 };
  }
}

export interface Slab {
  bytes: Buffer;
  /** Bytes written so far. */
  used: number;
  /** Texts written and not yet released. */
  live: number;
}

/**
 * Where one text lives: a byte range of a slab. An owner keeping many keeps
 * their fields in arrays rather than an object each, or the heap again holds one object per message.
 */
export interface Extent {
  readonly slab: Slab;
  readonly start: number;
  readonly end: number;
}
