import { Inject, Injectable } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import type { RoomEvent } from '../core/room-event.js';
import { MESSAGE_STORE, type MessageStore } from './message.store.js';
import { READ_STORE, type ReadPosition, type ReadStore } from './read.store.js';

/** A member's unread messages: the room's seq past their read position. */
export function unreadCount(roomSeq: number, position: ReadPosition | undefined): number {
  return Math.max(0, roomSeq - (position?.seq ?? 0));
}

/**
 * Read positions (PROTOCOL §2, "Read state"). A message costs no write per
 * member: unread counts are computed when asked, as the room's seq minus
 * the member's position. A member's own message moves their position to it,
 * so their own messages never count as unread.
 */
@Injectable()
export class ReadStateService {
  constructor(
    @Inject(READ_STORE) private readonly store: ReadStore,
    @Inject(MESSAGE_STORE) private readonly messages: MessageStore,
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
  ) {}

  /**
   * Marks the room read up to `upTo` (default: its latest message), never
   * past the latest and never backwards. When the position moved, the room's
   * connections hear `read` (published by the store's step where it
   * `announces`). Answers the position and what is left unread.
   */
  async markRead(roomId: string, userId: string, upTo?: number): Promise<{ seq: number; unread: number; moved: boolean }> {
    const [latest] = await this.messages.latest([roomId]);
    const target = Math.min(upTo ?? latest.seq, latest.seq);
    const read: RoomEvent = { type: 'read', data: { user_id: userId, seq: target } };
    const { position, moved } = await this.store.advance(roomId, userId, target, new Date().toISOString(), read);
    if (moved && this.store.announces) this.bus.published(roomId, read);
    else if (moved) await this.bus.publish(roomId, read);
    return { seq: position.seq, unread: unreadCount(latest.seq, position), moved };
  }

  /** The sender has read their own message, and everything before it. */
  async sent(roomId: string, userId: string, seq: number): Promise<void> {
    await this.store.advance(roomId, userId, seq, new Date().toISOString());
  }

  ofUser(userId: string, roomIds: string[]): Promise<Array<ReadPosition | undefined>> {
    return roomIds.length === 0 ? Promise.resolve([]) : this.store.ofUser(userId, roomIds);
  }

  inRoom(roomId: string, userIds: string[]): Promise<Array<ReadPosition | undefined>> {
    return userIds.length === 0 ? Promise.resolve([]) : this.store.inRoom(roomId, userIds);
  }
}
