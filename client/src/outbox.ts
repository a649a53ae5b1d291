import type { Message } from './protocol.js';

/** A message the application sent that the server has not confirmed yet. */
export interface OutboxEntry {
  /** The server deduplicates retries by this id, so resending is always safe. */
  client_msg_id: string;
  room_id: string;
  content: string;
  message_type?: string;
  parent_message_id?: string;
  /** When the application called `send` (ISO 8601). */
  created_at: string;
}

/**
 * Where queued messages are kept across restarts of the application. Both
 * calls are synchronous so that a message is stored before `send` returns.
 */
export interface OutboxStore {
  load(): OutboxEntry[];
  save(entries: OutboxEntry[]): void;
}

/** Keeps the queue in memory only: it lasts as long as the client object. */
export function memoryOutboxStore(): OutboxStore {
  let saved: OutboxEntry[] = [];
  return { load: () => saved, save: (entries) => (saved = entries) };
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the queue in `localStorage` under `key` (one key per user), so a page
 * reload does not lose what was typed while offline. Unreadable content is ignored.
 *
 * Tabs of one user share the key: a save writes only this queue's changes
 * (what it added, what it confirmed or gave up) into what is stored, so it
 * never drops what another tab queued meanwhile. A tab that loaded another's
 * messages may send them too: the server stores each `client_msg_id` once.
 */
export function localStorageOutboxStore(key: string, storage?: StorageLike): OutboxStore {
  const target = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!target) throw new Error('localStorage is not available here');
  const read = (): OutboxEntry[] => {
    try {
      const value: unknown = JSON.parse(target.getItem(key) ?? '[]');
      return Array.isArray(value) ? (value as OutboxEntry[]).filter(isEntry) : [];
    } catch {
      return [];
    }
  };
  /** The ids this queue holds as of its last load or save. */
  let known = new Set<string>();
  return {
    load() {
      const entries = read();
      known = new Set(entries.map((entry) => entry.client_msg_id));
      return entries;
    },
    save(entries) {
      const ids = new Set(entries.map((entry) => entry.client_msg_id));
      // Kept: what this queue still holds and what another tab added. Added: only what is new here, so an
      // entry another tab settled (gone from storage) is not written back by a tab that had loaded it.
      const stored = read().filter((entry) => ids.has(entry.client_msg_id) || !known.has(entry.client_msg_id));
      const storedIds = new Set(stored.map((entry) => entry.client_msg_id));
      const added = entries.filter((entry) => !known.has(entry.client_msg_id) && !storedIds.has(entry.client_msg_id));
      const merged = [...stored, ...added];
      known = ids;
      if (merged.length === 0) target.removeItem(key);
      else target.setItem(key, JSON.stringify(merged));
    },
  };
}

function isEntry(value: unknown): value is OutboxEntry {
  const entry = value as OutboxEntry;
  return typeof entry?.client_msg_id === 'string' && typeof entry.room_id === 'string' && typeof entry.content === 'string';
}

interface Pending {
  entry: OutboxEntry;
  /** When it was last written to a socket; undefined while waiting for one. */
  sentAt?: number;
  /** The server said "not now": the room's later messages wait until this one is confirmed (or refused for good). */
  held?: boolean;
  /** After a "not now": when it goes again, and how many times it was told so (its backoff). */
  retryAt?: number;
  refusals?: number;
  resolve?: (message: Message) => void;
  reject?: (error: Error) => void;
}

/**
 * The queue of unconfirmed messages, in the order they were sent. An entry
 * leaves it exactly once: confirmed by the server (`message_ack`, or its own
 * message arriving with the same `client_msg_id`) or refused for good.
 */
export class Outbox {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly store: OutboxStore) {
    for (const entry of store.load()) this.pending.set(entry.client_msg_id, { entry });
  }

  add(entry: OutboxEntry): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.pending.set(entry.client_msg_id, { entry, resolve, reject });
      this.persist();
    });
  }

  /** A promise for an entry that was loaded from the store (or already added). */
  wait(clientMsgId: string): Promise<Message> | undefined {
    const item = this.pending.get(clientMsgId);
    if (!item) return undefined;
    return new Promise((resolve, reject) => {
      const [previousResolve, previousReject] = [item.resolve, item.reject];
      item.resolve = (message) => (previousResolve?.(message), resolve(message));
      item.reject = (error) => (previousReject?.(error), reject(error));
    });
  }

  entries(roomId?: string): OutboxEntry[] {
    return [...this.pending.values()].map((p) => p.entry).filter((e) => roomId === undefined || e.room_id === roomId);
  }

  /**
   * Entries of `roomId` that are not on the wire (never sent, or sent longer
   * than `timeoutMs` ago), oldest first, up to one the server said "not now"
   * to that is waiting for its retry or its answer: a message written after
   * it could overtake it in the room.
   */
  due(roomId: string, now: number, timeoutMs: number): OutboxEntry[] {
    const due: OutboxEntry[] = [];
    for (const item of this.pending.values()) {
      if (item.entry.room_id !== roomId) continue;
      if (item.retryAt !== undefined) {
        if (now < item.retryAt) break;
        due.push(item.entry);
        continue;
      }
      const waiting = item.sentAt !== undefined && now - item.sentAt < timeoutMs;
      if (waiting && item.held) break;
      if (!waiting) due.push(item.entry);
    }
    return due;
  }

  /** Entries written less than `timeoutMs` ago and still waiting for their answer. */
  inFlight(now: number, timeoutMs: number): number {
    return [...this.pending.values()].filter((p) => p.sentAt !== undefined && now - p.sentAt < timeoutMs).length;
  }

  markSent(clientMsgId: string, now: number): void {
    const item = this.pending.get(clientMsgId);
    if (!item) return;
    item.sentAt = now;
    item.retryAt = undefined;
  }

  /** Everything goes back to "not on the wire" (the socket is gone). */
  resetSent(): void {
    for (const item of this.pending.values()) {
      item.sentAt = undefined;
      item.held = false;
      item.retryAt = undefined;
    }
  }

  /**
   * Marks the entry for another try (the server said "not now"), after
   * `delayMs(refusals)` for the times it was told so; the room's later
   * entries wait for it. Returns the delay.
   */
  retryLater(clientMsgId: string, now: number, delayMs: (refusals: number) => number): number | undefined {
    const item = this.pending.get(clientMsgId);
    if (!item) return undefined;
    item.refusals = (item.refusals ?? 0) + 1;
    const delay = delayMs(item.refusals);
    item.held = true;
    item.sentAt = undefined;
    item.retryAt = now + delay;
    return delay;
  }

  /** Every entry on the wire and unanswered goes again at `at` (the server dropped some frames); true if there were any. */
  retryUnanswered(at: number): boolean {
    let any = false;
    for (const item of this.pending.values()) {
      if (item.sentAt === undefined) continue;
      item.sentAt = undefined;
      item.retryAt = at;
      any = true;
    }
    return any;
  }

  /** Confirms an entry; returns it the first time only. */
  confirm(clientMsgId: string, message: Message): OutboxEntry | undefined {
    const item = this.pending.get(clientMsgId);
    if (!item) return undefined;
    this.pending.delete(clientMsgId);
    this.persist();
    item.resolve?.(message);
    return item.entry;
  }

  /** Refuses an entry for good. */
  fail(clientMsgId: string, error: Error): OutboxEntry | undefined {
    const item = this.pending.get(clientMsgId);
    if (!item) return undefined;
    this.pending.delete(clientMsgId);
    this.persist();
    item.reject?.(error);
    return item.entry;
  }

  private persist(): void {
    this.store.save(this.entries());
  }
}
