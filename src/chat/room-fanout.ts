import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, Settings } from '../config/settings.js';
import type { DeliveredEvent } from '../core/room-event.js';
import { MessagesService } from '../messages/messages.service.js';
import { PresenceService } from '../presence/presence.service.js';
import type { Connection } from './connection.js';
import { FrameMetrics } from './frame-metrics.js';
import { LocalRoom, type Waiting } from './local-room.js';
import { encode, type ServerFrame } from './protocol.js';

/** The first wait before a failed catch-up is tried again; each failure after it doubles it, up to the maximum. */
const CATCH_UP_RETRY_MS = 250;
const CATCH_UP_RETRY_MAX_MS = 8_000;
/**
 * How much earlier than the moment the bus lost its subscription changes are
 * read from: a change's time is the clock of the instance that made it.
 */
const CLOCK_MARGIN_MS = 10_000;

/**
 * Which local connections joined which room, and the delivery of room
 * events to them: each event is serialized once and written to every
 * connection of the room. It is the one place that adds rooms to and
 * deletes them from `Connection.rooms`.
 *
 * No silent gaps: the fan-out knows the last `seq` it delivered per room.
 * A message whose seq jumps past it (or whose epoch differs), or a bus that
 * lost its subscription, makes it read the missing messages from the store
 * and deliver them first; later events wait in order meanwhile, at most
 * ROOM_BACKLOG_MAX of them (past it they are dropped and the store is read
 * again). A jump is accepted only as far as the store confirms it: an event
 * that still jumps after a store read that began after it arrived is not in
 * the room's history (a forged `seq` or epoch on the channel) and is dropped
 * and counted, so it cannot stall the room.
 */
@Injectable()
export class RoomFanout {
  private readonly logger = new Logger(RoomFanout.name);
  private readonly rooms = new Map<string, LocalRoom>();
  /** Arrival mark of the latest event, to tell which events a store read began after. */
  private arrivals = 0;
  private unconfirmedCount = 0;
  private overflowCount = 0;
  private readonly resetListeners: Array<(roomId: string) => void> = [];

  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly messages: MessagesService,
    private readonly presence: PresenceService,
    @Inject(SETTINGS) private readonly settings: Settings,
    @Optional() private readonly metrics?: FrameMetrics,
  ) {}

  /** Adds what to call when a served room's history was reset under its connections (`history_reset`). */
  onHistoryReset(listener: (roomId: string) => void): void {
    this.resetListeners.push(listener);
  }

  /** Message events dropped since start because the store did not confirm their seq or epoch. */
  get unconfirmed(): number {
    return this.unconfirmedCount;
  }

  /** Events dropped since start because a room's backlog was full (the messages among them were read again). */
  get overflowed(): number {
    return this.overflowCount;
  }

  /**
   * Waits for the room's subscription: true once live; false while the bus
   * is away (it subscribes on reconnect and the room catches up), or if a
   * connected bus refused it again just now (the room has no live stream).
   */
  async live(roomId: string, room: LocalRoom): Promise<'live' | 'pending' | 'refused'> {
    if (await room.subscribed) return 'live';
    if (!this.bus.connected) return 'pending';
    // Answered false earlier (the bus was away, or refused): ask again now that it is connected.
    room.subscribed = this.bus.subscribe(roomId);
    if (await room.subscribed) return 'live';
    return this.bus.connected ? 'refused' : 'pending';
  }

  /**
   * Adds a joining connection, subscribing the room on its first local
   * connection; the room's frames are held for it until `LocalRoom.release`.
   */
  attach(connection: Connection, roomId: string): LocalRoom {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new LocalRoom(this.settings.limits.roomBacklogMax);
      room.subscribed = this.bus.subscribe(roomId);
      this.rooms.set(roomId, room);
    }
    connection.rooms.add(roomId);
    room.add(connection);
    return room;
  }

  /** Removes the connection; false if it was not in the room. The last one out unsubscribes the room. */
  async detach(connection: Connection, roomId: string): Promise<boolean> {
    if (!connection.rooms.delete(roomId)) return false;
    const room = this.rooms.get(roomId);
    room?.delete(connection);
    if (room?.isEmpty) {
      clearTimeout(room.retry);
      this.rooms.delete(roomId);
      await this.bus.unsubscribe(roomId);
    }
    return true;
  }

  /** The rooms with connections on this instance. */
  roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  connections(roomId: string): Connection[] {
    return [...(this.rooms.get(roomId)?.connections ?? [])];
  }

  deliver(roomId: string, event: DeliveredEvent): void {
    const room = this.rooms.get(roomId);
    if (room) this.enqueue(roomId, room, { event, at: ++this.arrivals });
  }

  /**
   * After the bus lost its subscription: every room reads the messages it
   * missed. When the bus knows when it lost it (`lostAt`), a room also reads
   * the messages edited, deleted or reacted to since (sent again as
   * `message_updated` and `message_deleted`) and who is online and typing
   * (sent as `presence_state`). Resolves once they have (a catch-up never fails: it retries).
   */
  async resync(lostAt?: number): Promise<void> {
    const catchUps: Array<Promise<void>> = [];
    for (const [roomId, room] of this.rooms) {
      // One catching up already reads these at its end.
      if (lostAt !== undefined) {
        room.presenceMissed = true;
        room.changesSince = Math.min(room.changesSince ?? Infinity, lostAt - CLOCK_MARGIN_MS);
      }
      if (room.backlog) continue;
      room.backlog = [];
      catchUps.push(this.catchUp(roomId, room));
    }
    await Promise.all(catchUps);
  }

  private enqueue(roomId: string, room: LocalRoom, waiting: Waiting): void {
    if (room.backlog) {
      if (room.backlog.length < this.settings.limits.roomBacklogMax) room.backlog.push(waiting);
      else {
        room.backlogOverflowed = true;
        // The dropped events may have been presence changes or edits: the catch-up that reads the messages again
        // tells presence whole and sends the changes since (a change's time is its instance's clock: the margin).
        room.presenceMissed = true;
        room.changesSince ??= Date.now() - CLOCK_MARGIN_MS;
        this.overflowCount += 1;
      }
      return;
    }
    const { event } = waiting;
    const seq = seqOf(event);
    if (seq !== undefined && event.type === 'message') {
      const otherEpoch = room.epoch !== undefined && event.epoch !== room.epoch;
      const jump = room.lastSeq !== undefined && seq > room.lastSeq + 1;
      if (otherEpoch || jump) {
        if (waiting.at <= room.checkedAt) {
          this.unconfirmedCount += 1;
          this.logger.debug(`Room ${roomId}: dropped message ${seq} of epoch ${String(event.epoch)}, which the store does not have`);
          return;
        }
        room.backlog = [waiting];
        void this.catchUp(roomId, room);
        return;
      }
      if (room.lastSeq !== undefined && seq <= room.lastSeq) return;
    }
    const written = this.write(room, roomId, event, seq);
    // Sampled once per event, not per socket: the moment it went to every local receiver.
    if (written > 0 && event.type === 'message') this.metrics?.published(event.data.created_at);
  }

  /**
   * Reads what the room missed, then delivers what waited. Every event that
   * arrived before the read began is judged by it (`checkedAt`); if the
   * read fails, those that jump are dropped too: the next catch-up (a retry
   * while the bus is connected, the next message, or the bus's resync) reads
   * them from the store.
   */
  private async catchUp(roomId: string, room: LocalRoom): Promise<void> {
    const batch = this.settings.messages.recoveryMaxMessages;
    room.checkedAt = this.arrivals;
    let caughtUp = false;
    try {
      // Batch after batch, until the store has nothing newer. A room with no position yet (every
      // join answered while the store was away, or none answered yet) waits for its next message.
      while (room.lastSeq !== undefined) {
        // As stored: `write` signs each message's links as it makes the frame.
        const { head, messages } = await this.messages.storedAfter(roomId, room.lastSeq ?? 0, batch);
        if (room.epoch !== undefined && head.epoch !== room.epoch) {
          // The history was reset (a Redis that lost its data): seqs start again. The joined
          // connections are told before the new history's messages reach them from seq 1.
          room.restartSeq();
          room.epoch = head.epoch;
          room.lastSeq = 0;
          const reset = encode({ type: 'history_reset', room_id: roomId, epoch: head.epoch, seq: 0 });
          this.metrics?.broadcast('history_reset', room.deliver(Buffer.from(reset), undefined));
          for (const listener of this.resetListeners) listener(roomId);
          continue;
        }
        room.epoch ??= head.epoch;
        for (const message of messages) {
          const seq = message.seq ?? 0;
          if (seq > (room.lastSeq ?? 0)) this.write(room, roomId, { type: 'message', data: message }, seq);
        }
        // A batch that starts past a trimmed head is still followed by the rest.
        if (messages.length < batch) break;
      }
      // Read while later events wait in the backlog: none of them is overtaken by an older state.
      if (room.changesSince !== undefined) {
        // Cleared before the read, as presence below.
        const since = room.changesSince;
        room.changesSince = undefined;
        const changed = await this.messages.storedChangedSince(roomId, since).catch((error: unknown) => {
          room.changesSince = Math.min(room.changesSince ?? since, since);
          throw error;
        });
        for (const message of changed) {
          const event: DeliveredEvent = message.is_deleted
            ? { type: 'message_deleted', data: { room_id: roomId, message_id: message.message_id } }
            : { type: 'message_updated', data: message };
          this.write(room, roomId, event, undefined);
        }
      }
      if (room.presenceMissed) {
        // Cleared before the read: a resync while it runs asks for a read after it.
        room.presenceMissed = false;
        // Strict: a state read from this instance alone would tell every other user offline.
        const { online, typing } = await this.presence.snapshot(roomId, true).catch((error: unknown) => {
          room.presenceMissed = true;
          throw error;
        });
        const state = encode({ type: 'presence_state', room_id: roomId, online, typing });
        // Not held for a connection still joining: its `joined` says who is online, itself included.
        this.metrics?.broadcast('presence_state', room.deliver(Buffer.from(state), undefined, undefined, false));
      }
      room.retryMs = 0;
      caughtUp = true;
    } catch (error) {
      this.logger.warn(`Could not catch up room ${roomId}: ${error instanceof Error ? error.message : String(error)}`);
      this.retryCatchUp(roomId, room);
    }
    const backlog = room.backlog ?? [];
    const overflowed = room.backlogOverflowed;
    room.backlog = undefined;
    room.backlogOverflowed = false;
    for (const waiting of backlog) this.enqueue(roomId, room, waiting);
    // Again at once for what this read may have missed: events dropped from a full backlog, or a resync during it.
    const missed = room.presenceMissed || room.changesSince !== undefined;
    if ((overflowed || (caughtUp && missed)) && !room.backlog && this.rooms.get(roomId) === room) {
      room.backlog = [];
      void this.catchUp(roomId, room);
    }
  }

  /**
   * Tries a failed catch-up again later, backing off, while the bus is connected (the store alone was
   * away): a quiet room would otherwise wait for its next message. While the bus is away, its resync does it.
   */
  private retryCatchUp(roomId: string, room: LocalRoom): void {
    if (room.retry || !this.bus.connected) return;
    room.retryMs = Math.min(room.retryMs * 2 || CATCH_UP_RETRY_MS, CATCH_UP_RETRY_MAX_MS);
    room.retry = setTimeout(() => {
      room.retry = undefined;
      if (this.rooms.get(roomId) !== room || room.backlog) return;
      room.backlog = [];
      void this.catchUp(roomId, room);
    }, room.retryMs);
    room.retry.unref();
  }

  /** Returns how many connections the event was written to (or held for). */
  private write(room: LocalRoom, roomId: string, event: DeliveredEvent, seq: number | undefined): number {
    if (seq !== undefined) room.lastSeq = seq;
    const except = 'connection_id' in event.data ? event.data.connection_id : undefined;
    const frame = toFrame(roomId, event, this.messages);
    const written = room.deliver(Buffer.from(encode(frame)), seq, except);
    this.metrics?.broadcast(frame.type, written);
    return written;
  }
}

/**
 * The room-order position of an event: only this service's messages have one.
 * A message of the main backend may carry a `seq` of its own, but no epoch.
 */
function seqOf(event: DeliveredEvent): number | undefined {
  return event.type === 'message' && event.epoch !== undefined ? event.data.seq : undefined;
}

/** The frame a room event becomes on the sockets of the room. */
function toFrame(roomId: string, event: DeliveredEvent, messages: MessagesService): ServerFrame {
  switch (event.type) {
    case 'message':
      return { type: 'message', message: messages.present(event.data) };
    case 'message_updated':
      return { type: 'message_updated', message: messages.present(event.data) };
    case 'message_deleted':
      return { type: 'message_deleted', room_id: roomId, message_id: event.data.message_id };
    case 'typing':
      return { type: 'typing', room_id: roomId, user_id: event.data.user_id, is_typing: true };
    case 'typing_stopped':
      return { type: 'typing_stopped', room_id: roomId, user_id: event.data.user_id };
    case 'presence':
      return { type: 'presence', room_id: roomId, user_id: event.data.user_id, status: event.data.status };
    case 'read':
      return { type: 'read', room_id: roomId, user_id: event.data.user_id, seq: event.data.seq };
  }
}
