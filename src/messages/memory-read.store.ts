import { composeKey } from '../core/key-parts.js';
import type { ReadPosition, ReadStore } from './read.store.js';

/** The embedded read positions: gone with the process, like the embedded history. */
export class MemoryReadStore implements ReadStore {
  private readonly positions = new Map<string, ReadPosition>();

  async advance(roomId: string, userId: string, seq: number, at: string): Promise<ReadPosition> {
    return { ...this.move(roomId, userId, seq, at) };
  }

  /** `advance`, synchronously: the embedded message store's append moves the sender's position with it. */
  move(roomId: string, userId: string, seq: number, at: string): ReadPosition {
    const key = composeKey(roomId, userId);
    const current = this.positions.get(key);
    if (current && current.seq >= seq) return current;
    const next = { seq, at };
    this.positions.set(key, next);
    return next;
  }

  async ofUser(userId: string, roomIds: string[]): Promise<Array<ReadPosition | undefined>> {
    return roomIds.map((roomId) => this.positions.get(composeKey(roomId, userId)));
  }

  async inRoom(roomId: string, userIds: string[]): Promise<Array<ReadPosition | undefined>> {
    return userIds.map((userId) => this.positions.get(composeKey(roomId, userId)));
  }
}
