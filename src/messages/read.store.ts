import type { RoomEvent } from '../core/room-event.js';

/** How far a member has read a room: up to `seq`, marked at `at` (ISO 8601). */
export interface ReadPosition {
  seq: number;
  at: string;
}

export const READ_STORE = Symbol('READ_STORE');

/**
 * Members' read positions, one per (room, user), shared by every instance.
 * A message writes nothing here for the members who have not read it: a
 * member's unread count is the room's seq minus their position.
 */
export interface ReadStore {
  /**
   * True when `advance` publishes its `announce` event on the room's channel
   * itself, in the step that moves the position (so moves made on different
   * instances arrive in the order they were made); false when the caller does.
   */
  readonly announces: boolean;
  /**
   * Moves the position to `seq` unless it is already there or further
   * (never backwards): the position after, and whether this call moved it.
   * A store that `announces` publishes `announce` (if given) when it moved.
   */
  advance(roomId: string, userId: string, seq: number, at: string, announce?: RoomEvent): Promise<{ position: ReadPosition; moved: boolean }>;
  /** One user's position in each room, in the order given (undefined: never read), in one round trip. */
  ofUser(userId: string, roomIds: string[]): Promise<Array<ReadPosition | undefined>>;
  /** Each user's position in one room, in the order given, in one round trip. */
  inRoom(roomId: string, userIds: string[]): Promise<Array<ReadPosition | undefined>>;
}
