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
  /** Moves the position to `seq` unless it is already there or further (never backwards); the position after. */
  advance(roomId: string, userId: string, seq: number, at: string): Promise<ReadPosition>;
  /** One user's position in each room, in the order given (undefined: never read), in one round trip. */
  ofUser(userId: string, roomIds: string[]): Promise<Array<ReadPosition | undefined>>;
  /** Each user's position in one room, in the order given, in one round trip. */
  inRoom(roomId: string, userIds: string[]): Promise<Array<ReadPosition | undefined>>;
}
