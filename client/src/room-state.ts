import type { Cursor, Message } from './protocol.js';
import type { RoomSync } from './types.js';

/** What the client knows of one room it keeps joined. */
export class RoomState {
  cursor?: Cursor;
  /** Whether the current socket has joined it. */
  joined = false;
  /** A `since` join is in flight to repair a gap; its `left` is ours. */
  resyncing = false;
  /** When the unanswered `join_room` on this socket went out. */
  joinSentAt?: number;
  /** When to send `join_room` again after the server said "not now" (or dropped it). */
  joinDueAt?: number;
  /** Joins of this room refused for now in a row: the retry backs off. */
  joinRefusals = 0;
  /**
   * The last seq a recovered join answered: until the messages up to it are
   * delivered the room's queue waits, since one of them may be a queued
   * message the server already stored (its answer lost with the connection).
   */
  recoveringTo?: number;
  /** Refs of the joins sent since the last answer taken: a retried join can be answered twice. */
  joinRefs: string[] = [];
  /** Refs of joins whose answer comes after another join's was taken: that second answer is ignored. */
  staleJoinRefs = new Set<string>();
  online = new Set<string>();
  typing = new Map<string, ReturnType<typeof setTimeout>>();
  waiters: Array<{ resolve: (sync: RoomSync) => void; reject: (error: Error) => void }> = [];
  ownTyping?: { sentAt: number; stop: ReturnType<typeof setTimeout> };
  /** Messages that arrived ahead of a gap, by seq. */
  private readonly held = new Map<number, Message>();

  constructor(
    readonly id: string,
    since?: Cursor,
  ) {
    this.cursor = since;
  }

  /** Starts over from `cursor` (a fresh join, or a history that was reset). */
  reset(cursor: Cursor): void {
    this.cursor = cursor;
    this.recoveringTo = undefined;
    this.held.clear();
  }

  /**
   * Takes a message off the wire and returns those now due to the
   * application, in `seq` order, each once (moving the cursor past them);
   * `gap` when it waits for earlier ones. Messages without a seq pass as they come.
   */
  accept(message: Message): { due: Message[]; gap: boolean } {
    if (message.seq === undefined || !this.cursor) return { due: [message], gap: false };
    if (message.seq <= this.cursor.seq) return { due: [], gap: false };
    if (message.seq > this.cursor.seq + 1) {
      this.held.set(message.seq, message);
      return { due: [], gap: true };
    }
    const due = [message];
    this.cursor = { seq: message.seq, epoch: this.cursor.epoch };
    for (let next = this.held.get(this.cursor.seq + 1); next; next = this.held.get(this.cursor.seq + 1)) {
      this.held.delete(next.seq!);
      due.push(next);
      this.cursor = { seq: next.seq!, epoch: this.cursor.epoch };
    }
    for (const seq of this.held.keys()) if (seq <= this.cursor.seq) this.held.delete(seq);
    return { due, gap: false };
  }
}
