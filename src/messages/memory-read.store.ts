import type { ReadPosition, ReadStore } from './read.store.js';

/** The embedded read positions: gone with the process, like the embedded history. */
export class MemoryReadStore implements ReadStore {
  /** Room → user → position: every sent message moves one, so no key is composed per message. */
  private readonly rooms = new Map<string, Map<string, ReadPosition>>();

  /** One process: the caller's publishes keep the order of the moves. */
  readonly announces = false;

  async advance(roomId: string, userId: string, seq: number, at: string): Promise<{ position: ReadPosition; moved: boolean }> {
    const before = this.rooms.get(roomId)?.get(userId);
    const position = this.move(roomId, userId, seq, at);
    return { position: { ...position }, moved: position !== before };
  }

  /** `advance`, synchronously: the embedded message store's append moves the sender's position with it. */
  move(roomId: string, userId: string, seq: number, at: string): ReadPosition {
    let room = this.rooms.get(roomId);
    if (!room) this.rooms.set(roomId, (room = new Map()));
    const current = room.get(userId);
    if (current && current.seq >= seq) return current;
    const next = { seq, at };
    room.set(userId, next);
    return next;
  }

  async ofUser(userId: string, roomIds: string[]): Promise<Array<ReadPosition | undefined>> {
    return roomIds.map((roomId) => this.rooms.get(roomId)?.get(userId));
  }

  async inRoom(roomId: string, userIds: string[]): Promise<Array<ReadPosition | undefined>> {
    const room = this.rooms.get(roomId);
    return userIds.map((userId) => room?.get(userId));
  }
}
