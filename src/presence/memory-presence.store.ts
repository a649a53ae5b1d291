import { Injectable } from '@nestjs/common';
import type { PresenceStore, Typist } from './presence.store.js';

interface Typing extends Typist {
  broadcastAt: number;
  expiresAt: number;
}

@Injectable()
export class MemoryPresenceStore implements PresenceStore {
  /** One process: the caller's publishes keep the order of the changes. */
  readonly announces = false;
  /** room → user → connection ids */
  private readonly connections = new Map<string, Map<string, Set<string>>>();
  /** room → user → typing */
  private readonly typists = new Map<string, Map<string, Typing>>();

  async addConnection(roomId: string, userId: string, connectionId: string): Promise<boolean> {
    let users = this.connections.get(roomId);
    if (!users) this.connections.set(roomId, (users = new Map()));
    let ids = users.get(userId);
    const cameOnline = !ids;
    if (!ids) users.set(userId, (ids = new Set()));
    ids.add(connectionId);
    return cameOnline;
  }

  async removeConnection(roomId: string, userId: string, connectionId: string): Promise<boolean> {
    const users = this.connections.get(roomId);
    const ids = users?.get(userId);
    if (!users || !ids || !ids.delete(connectionId)) return false;
    if (ids.size > 0) return false;
    users.delete(userId);
    if (users.size === 0) this.connections.delete(roomId);
    return true;
  }

  /** Every (room, user) with a connection here. */
  *entries(): Iterable<[roomId: string, userId: string]> {
    for (const [roomId, users] of this.connections) for (const userId of users.keys()) yield [roomId, userId];
  }

  async online(roomId: string): Promise<string[]> {
    return [...(this.connections.get(roomId)?.keys() ?? [])];
  }

  async startTyping(roomId: string, typist: Typist, now: number, throttleMs: number, ttlMs: number): Promise<boolean> {
    let room = this.typists.get(roomId);
    if (!room) this.typists.set(roomId, (room = new Map()));
    const current = room.get(typist.userId);
    const live = current !== undefined && current.expiresAt > now;
    const broadcast = !live || now - current.broadcastAt >= throttleMs;
    // A throttled start changes nothing but the expiry: the stop must go to
    // the connections that saw the broadcast start.
    room.set(
      typist.userId,
      broadcast || !current
        ? { ...typist, broadcastAt: now, expiresAt: now + ttlMs }
        : { ...current, expiresAt: now + ttlMs },
    );
    return broadcast;
  }

  async stopTyping(roomId: string, userId: string): Promise<Typist | undefined> {
    const room = this.typists.get(roomId);
    const current = room?.get(userId);
    if (!room || !current) return undefined;
    room.delete(userId);
    if (room.size === 0) this.typists.delete(roomId);
    return { userId: current.userId, connectionId: current.connectionId };
  }

  async expireTyping(roomId: string, now: number): Promise<Typist[]> {
    const room = this.typists.get(roomId);
    if (!room) return [];
    const expired: Typist[] = [];
    for (const [userId, typing] of room) {
      if (typing.expiresAt <= now) {
        room.delete(userId);
        expired.push({ userId, connectionId: typing.connectionId });
      }
    }
    if (room.size === 0) this.typists.delete(roomId);
    return expired;
  }

  async typing(roomId: string, now: number): Promise<string[]> {
    const room = this.typists.get(roomId);
    return [...(room?.values() ?? [])].filter((t) => t.expiresAt > now).map((t) => t.userId);
  }
}
