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
  /**
   * Optional: hands the queue, now or later, the entries of queues no one
   * keeps any more (a page closed or reloaded), which this store has taken over.
   */
  adopt?(take: (entries: OutboxEntry[]) => void): void;
  /** Optional: the client is closed for good; what the store holds for it (locks, listeners) goes. */
  close?(): void;
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
  readonly length?: number;
  key?(index: number): string | null;
}

/** The part of the Web Locks API (`navigator.locks`) the store uses. */
export interface LocksLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
}

/**
 * Keeps the queue in `localStorage` under `key` (one key per user), so a page
 * reload does not lose what was typed while offline. Unreadable content is ignored.
 *
 * Tabs of one user may share the key. With Web Locks (`navigator.locks`, in
 * browsers on secure pages) each client keeps its queue in a slot of its own
 * (`<key>:slot:<id>`) that no other writes: a tab does not always see another
 * tab's latest write at once, so a queue that tabs merged could bring back
 * what another tab had already sent. A client holds its slot's lock until
 * it is closed or its page goes; every client waits for the locks of the
 * slots it finds (and hears of, by their `storage` event), and the one that
 * gets a slot's lock takes its messages into its own queue and sends them,
 * once. A queue kept under `key` itself (by earlier versions, or without
 * Web Locks) is taken over the same way.
 *
 * Without Web Locks (or with `locks` null, or a `storage` that cannot list
 * its keys) the queue is kept under `key`, and a save writes only this
 * queue's changes into what is stored; tabs may then send each other's
 * messages, and a tab that missed another's latest write may send one again.
 */
export function localStorageOutboxStore(key: string, storage?: StorageLike, locks?: LocksLike | null): OutboxStore {
  const target = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!target) throw new Error('localStorage is not available here');
  const lockManager = locks === null ? undefined : (locks ?? (globalThis as { navigator?: { locks?: LocksLike } }).navigator?.locks);
  if (!lockManager || target.key === undefined || target.length === undefined) return sharedKeyStore(key, target);
  return slotStore(key, target, lockManager);
}

/** Entries stored as an array (the shared key), or undefined if the value is not one. */
function readArray(target: StorageLike, name: string): OutboxEntry[] | undefined {
  try {
    const value: unknown = JSON.parse(target.getItem(name) ?? '[]');
    return Array.isArray(value) ? (value as unknown[]).filter(isEntry) : undefined;
  } catch {
    return undefined;
  }
}

/** One key that every tab reads and merges into (see `localStorageOutboxStore`). */
function sharedKeyStore(key: string, target: StorageLike): OutboxStore {
  const read = () => readArray(target, key) ?? [];
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

/** A slot's id: what `randomUUID` or the fallback makes. */
const SLOT_ID = /^[0-9a-z-]{1,64}$/;

/** A slot per client, taken over through Web Locks (see `localStorageOutboxStore`). */
function slotStore(key: string, target: StorageLike, locks: LocksLike): OutboxStore {
  const prefix = `${key}:slot:`;
  const slot = `${prefix}${slotId()}`;
  const lockName = (name: string) => `chat-outbox ${name}`;
  const isQueue = (name: string) => name === key || (name.startsWith(prefix) && SLOT_ID.test(name.slice(prefix.length)));
  /** A slot's entries, or undefined if it holds something else (it is then neither taken nor removed). */
  const readSlot = (name: string): OutboxEntry[] | undefined => {
    if (name === key) return readArray(target, name);
    try {
      const value = JSON.parse(target.getItem(name) ?? 'null') as { outbox?: unknown; entries?: unknown } | null;
      if (value === null) return [];
      return value.outbox === key && Array.isArray(value.entries) ? (value.entries as unknown[]).filter(isEntry) : undefined;
    } catch {
      return undefined;
    }
  };
  let closed = false;
  /** Settles every lock this client holds (its own slot's and those it took over). */
  const releases: Array<() => void> = [];
  const hold = () => (closed ? Promise.resolve() : new Promise<void>((resolve) => releases.push(resolve)));
  // A context that may not take locks (a sandboxed frame) rejects: the slot is then just not held.
  locks.request(lockName(slot), hold).catch(() => undefined);
  type StorageListener = (event: { key: string | null; newValue?: string | null }) => void;
  let listener: StorageListener | undefined;
  const events = globalThis as {
    addEventListener?: (type: 'storage', listener: StorageListener) => void;
    removeEventListener?: (type: 'storage', listener: StorageListener) => void;
  };
  return {
    load: () => readSlot(slot) ?? [],
    save: (entries) => {
      if (entries.length === 0) target.removeItem(slot);
      else target.setItem(slot, JSON.stringify({ outbox: key, entries }));
    },
    adopt(take) {
      if (listener || closed) return;
      const taken = new Set<string>();
      const watched = new Set<string>();
      const takeFrom = (name: string) => {
        const entries = readSlot(name);
        if (entries === undefined) return;
        if (entries.length > 0) take(entries);
        target.removeItem(name);
      };
      const watch = (name: string | null | undefined) => {
        if (closed || !name || name === slot || watched.has(name) || !isQueue(name)) return;
        watched.add(name);
        locks
          .request(lockName(name), () => {
            if (closed) return Promise.resolve();
            taken.add(name);
            takeFrom(name);
            // Held until this client goes: no other takes the slot again while its removal spreads.
            return hold();
          })
          .catch(() => undefined);
      };
      for (let i = 0; i < (target.length ?? 0); i++) watch(target.key?.(i));
      listener = (event) => {
        if (closed || !event.key) return;
        // A write to a slot already taken over (one its page made as it went, seen late) is taken too.
        if (taken.has(event.key)) {
          if (event.newValue) takeFrom(event.key);
        } else watch(event.key);
      };
      events.addEventListener?.('storage', listener);
    },
    close() {
      closed = true;
      if (listener) events.removeEventListener?.('storage', listener);
      for (const release of releases.splice(0)) release();
    },
  };
}

/** An id for a client's slot. */
function slotId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
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

  /** `onAdopted`: entries of a queue no one keeps any more joined this one (`OutboxStore.adopt`). */
  constructor(
    private readonly store: OutboxStore,
    onAdopted?: () => void,
  ) {
    for (const entry of store.load()) this.pending.set(entry.client_msg_id, { entry });
    store.adopt?.((entries) => queueMicrotask(() => this.take(entries, onAdopted)));
  }

  /** Entries another queue left: those not here join, in the order they were written. */
  private take(entries: OutboxEntry[], onAdopted?: () => void): void {
    const fresh = entries.filter((entry) => !this.pending.has(entry.client_msg_id));
    if (fresh.length === 0) return;
    // In the order they were written, whichever queue they come from.
    const all = [...this.pending.values(), ...fresh.map((entry) => ({ entry }))].sort((a, b) => a.entry.created_at.localeCompare(b.entry.created_at));
    this.pending.clear();
    for (const item of all) this.pending.set(item.entry.client_msg_id, item);
    this.persist();
    onAdopted?.();
  }

  /** The client is closed for good: the store lets go of what it holds. */
  close(): void {
    this.store.close?.();
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
