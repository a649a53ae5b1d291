import type { DeliveredEvent } from '../core/room-event.js';
import type { Connection } from './connection.js';

/** A frame held for a connection until its join has answered. */
interface Held {
  seq: number | undefined;
  data: Buffer;
}

/** An event waiting while the room catches up; `at` orders its arrival against store reads. */
export interface Waiting {
  event: DeliveredEvent;
  at: number;
}

/**
 * One room's connections on this instance. A joining connection receives
 * the room's events from the moment it subscribes, but they are held until
 * `joined` (and any recovered history) has gone out, so nothing is lost or
 * doubled at the seam ("subscribe before you read"). At most `maxHeld`
 * frames are held per joining connection: past it they are dropped, and the
 * join reads the messages again from the store (`overflowed`).
 */
export class LocalRoom {
  readonly connections = new Set<Connection>();
  /** Frames held per joining connection; null once more than `maxHeld` came. */
  private readonly joining = new Map<Connection, Held[] | null>();
  /**
   * For a connection that just joined: the seq it already has. The store
   * can be ahead of this instance's subscription, so messages up to it may
   * still arrive live; they are skipped until a newer one has gone out.
   */
  private readonly floors = new Map<Connection, number>();
  /** The room's bus subscription: true once active, false while the bus could not subscribe (see `RoomBus.subscribe`). */
  subscribed: Promise<boolean> = Promise.resolve(true);
  /** The history's epoch, as the latest message event or store read said. */
  epoch: string | undefined;
  /** The last message seq written to this room's connections. */
  lastSeq: number | undefined;
  /** Events waiting, in order, while missed messages are read from the store (at most the backlog bound). */
  backlog: Waiting[] | undefined;
  /** Events were dropped from a full backlog: read the store again once the catch-up is done. */
  backlogOverflowed = false;
  /**
   * Arrival mark of the last event that a store read began after: such an
   * event that still jumps past the room's position was not in the store,
   * so it is not this room's history (a forged or stray event).
   */
  checkedAt = 0;
  /** Presence changes may have been missed (the bus was away): the next catch-up sends `presence_state`. */
  presenceMissed = false;
  /** Message changes since then may have been missed (the bus was away): the next catch-up sends them again. */
  changesSince: number | undefined;
  /** A failed catch-up waiting to be tried again, and how long the last wait was (0: none failed since the last that worked). */
  retry: NodeJS.Timeout | undefined;
  retryMs = 0;

  constructor(private readonly maxHeld: number) {}

  add(connection: Connection): void {
    this.connections.add(connection);
    this.joining.set(connection, []);
  }

  delete(connection: Connection): void {
    this.connections.delete(connection);
    this.joining.delete(connection);
    this.floors.delete(connection);
  }

  get isEmpty(): boolean {
    return this.connections.size === 0;
  }

  /**
   * Writes one serialized frame to every connection but `except`; `seq`
   * marks a message. Connections still joining hold it for later, or with
   * `toJoining` false are skipped. Returns how many connections it was written to (open ones) or held for.
   */
  deliver(data: Buffer, seq: number | undefined, except?: string, toJoining = true): number {
    let count = 0;
    for (const connection of this.connections) {
      if (connection.id === except) continue;
      if (this.joining.size > 0 && this.joining.has(connection)) {
        if (!toJoining) continue;
        const held = this.joining.get(connection);
        if (held && held.length < this.maxHeld) held.push({ seq, data });
        else this.joining.set(connection, null);
        count++;
        continue;
      }
      if (seq !== undefined && this.floors.size > 0) {
        const floor = this.floors.get(connection);
        if (floor !== undefined && seq <= floor) continue;
        this.floors.delete(connection);
      }
      if (connection.sendEncoded(data)) count++;
    }
    return count;
  }

  /** The history was reset: seqs start again, so no old position counts. */
  restartSeq(): void {
    this.lastSeq = undefined;
    this.floors.clear();
  }

  /** True if frames held for the joining connection were dropped; it starts holding afresh. */
  overflowed(connection: Connection): boolean {
    if (this.joining.get(connection) !== null) return false;
    this.joining.set(connection, []);
    return true;
  }

  /**
   * Ends the join: writes the held frames except messages the client
   * already has (seq up to `upToSeq`), then lets the live stream through.
   */
  release(connection: Connection, upToSeq: number): void {
    const held = this.joining.get(connection);
    if (held === undefined) return;
    this.joining.delete(connection);
    let sent = upToSeq;
    for (const frame of held ?? []) {
      if (frame.seq !== undefined && frame.seq <= sent) continue;
      connection.sendEncoded(frame.data);
      if (frame.seq !== undefined) sent = frame.seq;
    }
    this.floors.set(connection, sent);
  }
}
