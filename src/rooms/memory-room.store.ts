import { Injectable } from '@nestjs/common';
import type { Member, Room, RoomStore } from './room.store.js';

interface Entry {
  room: Room;
  members: Map<string, Member>;
}

@Injectable()
export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Entry>();
  private readonly roomsByUser = new Map<string, Set<string>>();

  async create(room: Room, members: Member[]): Promise<void> {
    this.rooms.set(room.room_id, { room: { ...room }, members: new Map() });
    for (const member of members) await this.addMember(room.room_id, member);
  }

  async get(roomId: string): Promise<Room | undefined> {
    const entry = this.rooms.get(roomId);
    return entry && this.view(entry);
  }

  async listForUser(userId: string): Promise<Room[]> {
    // A Set keeps insertion order, which is join order.
    const ids = [...(this.roomsByUser.get(userId) ?? [])].reverse();
    return ids
      .map((id) => this.rooms.get(id))
      .filter((entry): entry is Entry => entry !== undefined)
      .map((entry) => this.view(entry));
  }

  async members(roomId: string): Promise<Member[]> {
    return [...(this.rooms.get(roomId)?.members.values() ?? [])].map((m) => ({ ...m }));
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return this.rooms.get(roomId)?.members.has(userId) ?? false;
  }

  async addMember(roomId: string, member: Member): Promise<Member> {
    const entry = this.rooms.get(roomId);
    if (!entry) throw new Error(`No room ${roomId}`);
    const existing = entry.members.get(member.user_id);
    if (existing) return { ...existing };
    entry.members.set(member.user_id, { ...member });
    let rooms = this.roomsByUser.get(member.user_id);
    if (!rooms) this.roomsByUser.set(member.user_id, (rooms = new Set()));
    rooms.add(roomId);
    return { ...member };
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const removed = this.rooms.get(roomId)?.members.delete(userId) ?? false;
    this.roomsByUser.get(userId)?.delete(roomId);
    return removed;
  }

  private view(entry: Entry): Room {
    return { ...entry.room, member_ids: [...entry.members.keys()] };
  }
}
