import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import type { UserEvent } from '../core/room-event.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { Connection } from './connection.js';
import { encode } from './protocol.js';

/**
 * A user's events (PROTOCOL §2, "Events of a user") to every connection of
 * theirs on this instance, whichever rooms it joined. The instance
 * subscribes a user's channel while it holds a connection of theirs. A
 * room event is answered with the room's summary as that user sees it, an
 * `unread` with their counts: read here as the event is delivered, once per
 * event and user, not once per connection, so the last frame is the latest state.
 */
@Injectable()
export class UserEventsListener implements OnModuleInit {
  private readonly logger = new Logger(UserEventsListener.name);
  private readonly byUser = new Map<string, Set<Connection>>();
  /** Per user, the delivery in flight (the last of a chain). */
  private readonly delivering = new Map<string, Promise<void>>();
  /** Per user, the `unread` deliveries queued and not yet begun, as `room\nreader connection`. */
  private readonly unreadWaiting = new Map<string, Set<string>>();

  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly rooms: RoomsService,
  ) {}

  onModuleInit(): void {
    this.bus.onUserEvent((userId, event) => {
      // An `unread` already waiting for the same room and reader will read the counts then: one delivery serves both,
      // so a burst of reads costs at most one reading of the counts per room and reader, however slow that reading is.
      const unread = event.type === 'unread' ? `${event.data.room_id}\n${event.data.connection_id}` : undefined;
      if (unread !== undefined) {
        let waiting = this.unreadWaiting.get(userId);
        if (waiting?.has(unread)) return;
        if (!waiting) this.unreadWaiting.set(userId, (waiting = new Set()));
        waiting.add(unread);
      }
      // One user's events one after another: each reads the state as it is delivered, so they go out in that order.
      const previous = this.delivering.get(userId) ?? Promise.resolve();
      const next = previous.then(() => this.deliver(userId, event)).catch((error: unknown) => {
        this.logger.warn(`Could not deliver ${event.type} to ${userId}: ${error instanceof Error ? error.message : String(error)}`);
      });
      this.delivering.set(userId, next);
      void next.then(() => {
        if (this.delivering.get(userId) === next) this.delivering.delete(userId);
      });
    });
  }

  /** Resolves once the user's channel is subscribed (at once when it already was). */
  async opened(connection: Connection): Promise<void> {
    let connections = this.byUser.get(connection.userId);
    if (!connections) this.byUser.set(connection.userId, (connections = new Set()));
    connections.add(connection);
    if (connections.size === 1) await this.bus.subscribeUser(connection.userId);
  }

  closed(connection: Connection): void {
    const connections = this.byUser.get(connection.userId);
    if (!connections?.delete(connection) || connections.size > 0) return;
    this.byUser.delete(connection.userId);
    void this.bus.unsubscribeUser(connection.userId);
  }

  private async deliver(userId: string, event: UserEvent): Promise<void> {
    if (event.type === 'unread') {
      const waiting = this.unreadWaiting.get(userId);
      waiting?.delete(`${event.data.room_id}\n${event.data.connection_id}`);
      if (waiting?.size === 0) this.unreadWaiting.delete(userId);
    }
    if (!this.byUser.get(userId)?.size) return;
    if (event.type === 'unread') {
      const { room_id, connection_id } = event.data;
      const { unread, total } = await this.rooms.unreadCounts(userId, room_id);
      const frame = encode({ type: 'unread', room_id, unread_count: unread, total });
      for (const connection of this.byUser.get(userId) ?? []) {
        if (connection.id !== connection_id && connection.isGreeted) connection.sendEncoded(frame);
      }
      return;
    }
    const room = await this.rooms.summaryFor(userId, event.data.room_id);
    if (!room) return;
    const frame = encode({ type: event.type, room });
    // A connection still before its `connected` (which comes first) gets the state from the rooms it lists after.
    for (const connection of this.byUser.get(userId) ?? []) if (connection.isGreeted) connection.sendEncoded(frame);
  }
}
