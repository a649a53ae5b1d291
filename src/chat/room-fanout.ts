import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, Settings } from '../config/settings.js';
import type { DeliveredEvent } from '../core/room-event.js';
import { MessagesService } from '../messages/messages.service.js';
import type { Connection } from './connection.js';
import { FrameMetrics } from './frame-metrics.js';
import { LocalRoom } from './local-room.js';
import { encode, type ServerFrame } from './protocol.js';

/**
 * Which local connections joined which room, and the delivery of room
 * events to them: each event is serialized once and written to every
 * connection of the room. It is the one place that adds rooms to and
 * deletes them from `Connection.rooms`.
 *
 * No silent gaps: the fan-out knows the last `seq` it delivered per room.
 * A message whose seq jumps past it, or a bus that lost its subscription,
 * makes it read the missing messages from the store and deliver them first;
 * later events wait in order meanwhile.
 */
@Injectable()
export class RoomFanout {
  private readonly logger = new Logger(RoomFanout.name);
  private readonly rooms = new Map<string, LocalRoom>();

  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly messages: MessagesService,
    @Inject(SETTINGS) private readonly settings: Settings,
    @Optional() private readonly metrics?: FrameMetrics,
  ) {}

  /**
   * Adds a joining connection, subscribing the room on its first local
   * connection; the room's frames are held for it until `LocalRoom.release`.
   */
  attach(connection: Connection, roomId: string): LocalRoom {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new LocalRoom();
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
      this.rooms.delete(roomId);
      await this.bus.unsubscribe(roomId);
    }
    return true;
  }

  connections(roomId: string): Connection[] {
    return [...(this.rooms.get(roomId)?.connections ?? [])];
  }

  deliver(roomId: string, event: DeliveredEvent): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    if (room.backlog) {
      room.backlog.push(event);
      return;
    }
    const seq = seqOf(event);
    if (event.type === 'message' && event.epoch !== undefined && event.epoch !== room.epoch) {
      // The room's history was reset (a flushed Redis): seqs start again.
      if (room.epoch !== undefined) room.restartSeq();
      room.epoch = event.epoch;
    }
    if (seq !== undefined && room.lastSeq !== undefined) {
      if (seq <= room.lastSeq) return;
      if (seq > room.lastSeq + 1) {
        room.backlog = [event];
        void this.catchUp(roomId, room);
        return;
      }
    }
    const written = this.write(room, roomId, event, seq);
    // Sampled once per event, not per socket: the moment it went to every local receiver.
    if (written > 0 && event.type === 'message') this.metrics?.published(event.data.created_at);
  }

  /** After the bus lost its subscription: every room reads what it missed. */
  resync(): void {
    for (const [roomId, room] of this.rooms) {
      if (room.backlog || room.lastSeq === undefined) continue;
      room.backlog = [];
      void this.catchUp(roomId, room);
    }
  }

  private async catchUp(roomId: string, room: LocalRoom): Promise<void> {
    const batch = this.settings.messages.recoveryMaxMessages;
    try {
      // Batch after batch, until the store has nothing newer or dropped what was missed.
      for (;;) {
        const { messages } = await this.messages.readAfter(roomId, room.lastSeq ?? 0, batch);
        for (const message of messages) {
          const seq = message.seq ?? 0;
          if (seq > (room.lastSeq ?? 0)) this.write(room, roomId, { type: 'message', data: message }, seq);
        }
        // A batch that starts past a trimmed head is still followed by the rest.
        if (messages.length < batch) break;
      }
    } catch (error) {
      this.logger.warn(`Could not catch up room ${roomId}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const backlog = room.backlog ?? [];
    room.backlog = undefined;
    const next = backlog.map(seqOf).find((seq) => seq !== undefined) ?? 0;
    if (room.lastSeq !== undefined && next > room.lastSeq + 1) {
      // The store no longer has them (or is away): accept the gap rather than stall the room.
      this.logger.warn(`Room ${roomId}: messages ${room.lastSeq + 1}..${next - 1} could not be recovered`);
      room.lastSeq = next - 1;
    }
    for (const event of backlog) this.deliver(roomId, event);
  }

  /** Returns how many connections the event was written to (or held for). */
  private write(room: LocalRoom, roomId: string, event: DeliveredEvent, seq: number | undefined): number {
    if (seq !== undefined) room.lastSeq = seq;
    const except = 'connection_id' in event.data ? event.data.connection_id : undefined;
    const frame = toFrame(roomId, event);
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
function toFrame(roomId: string, event: DeliveredEvent): ServerFrame {
  switch (event.type) {
    case 'message':
      return { type: 'message', message: event.data };
    case 'message_updated':
      return { type: 'message_updated', message: event.data };
    case 'message_deleted':
      return { type: 'message_deleted', room_id: roomId, message_id: event.data.message_id };
    case 'typing':
      return { type: 'typing', room_id: roomId, user_id: event.data.user_id, is_typing: true };
    case 'typing_stopped':
      return { type: 'typing_stopped', room_id: roomId, user_id: event.data.user_id };
    case 'presence':
      return { type: 'presence', room_id: roomId, user_id: event.data.user_id, status: event.data.status };
  }
}
