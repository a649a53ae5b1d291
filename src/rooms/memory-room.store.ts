import { Injectable } from '@nestjs/common';
import type {
  AddOutcome,
  CreateLimits,
  CreateOutcome,
  Member,
  MembershipLimits,
  Page,
  Room,
  RoomStore,
} from './room.store.js';

interface Entry {
  room: Room;
  members: Map<string, Member>;
}

const UNLIMITED: CreateLimits = { membersPerRoom: Infinity, roomsPerUser: Infinity, roomsCreatedByOwner: null };

@Injectable()
export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Entry>();
  private readonly roomsByUser = new Map<string, Set<string>>();
  private readonly createdBy = new Map<string, number>();
  private readonly directRooms = new Map<string, string>();

  async create(room: Room, members: Member[], limits: CreateLimits = UNLIMITED, direct?: string): Promise<CreateOutcome> {
    const existing = direct === undefined ? undefined : this.directRooms.get(direct);
    if (existing !== undefined) return { status: 'exists', roomId: existing };
    const created = this.createdBy.get(room.owner_id) ?? 0;
    if (limits.roomsCreatedByOwner !== null && created >= limits.roomsCreatedByOwner) return { status: 'owner_quota' };
    const full = members.find((m) => (this.roomsByUser.get(m.user_id)?.size ?? 0) >= limits.roomsPerUser);
    if (full) return { status: 'user_full', userId: full.user_id };
    this.rooms.set(room.room_id, { room: { ...room }, members: new Map() });
    for (const member of members) this.add(room.room_id, member);
    this.createdBy.set(room.owner_id, created + 1);
    if (direct !== undefined) this.directRooms.set(direct, room.room_id);
    return { status: 'created', roomId: room.room_id };
  }

  async get(roomId: string): Promise<Room | undefined> {
    const entry = this.rooms.get(roomId);
    return entry && this.view(entry);
  }

  async getMany(roomIds: string[]): Promise<Array<Room | undefined>> {
    return roomIds.map((id) => {
      const entry = this.rooms.get(id);
      return entry && this.view(entry);
    });
  }

  async roomIdsOf(userId: string): Promise<string[]> {
    // A Set keeps insertion order, which is join order.
    return [...(this.roomsByUser.get(userId) ?? [])].reverse();
  }

  async listForUser(userId: string, offset: number, limit: number): Promise<Page<Room>> {
    // A Set keeps insertion order, which is join order.
    const ids = [...(this.roomsByUser.get(userId) ?? [])].reverse();
    const items = ids
      .slice(offset, offset + limit)
      .map((id) => this.rooms.get(id))
      .filter((entry): entry is Entry => entry !== undefined)
      .map((entry) => this.view(entry));
    return { items, total: ids.length };
  }

  async members(roomId: string, offset: number, limit: number): Promise<Page<Member>> {
    const all = [...(this.rooms.get(roomId)?.members.values() ?? [])];
    return { items: all.slice(offset, offset + limit).map((m) => ({ ...m })), total: all.length };
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return this.rooms.get(roomId)?.members.has(userId) ?? false;
  }

  async member(roomId: string, userId: string): Promise<Member | undefined> {
    const member = this.rooms.get(roomId)?.members.get(userId);
    return member && { ...member };
  }

  async addMember(roomId: string, member: Member, limits: MembershipLimits): Promise<AddOutcome> {
    const entry = this.rooms.get(roomId);
    if (!entry) throw new Error(`No room ${roomId}`);
    const existing = entry.members.get(member.user_id);
    if (existing) return { status: 'existing', member: { ...existing } };
    if (entry.members.size >= limits.membersPerRoom) return { status: 'room_full' };
    if ((this.roomsByUser.get(member.user_id)?.size ?? 0) >= limits.roomsPerUser) return { status: 'user_full' };
    this.add(roomId, member);
    return { status: 'added', member: { ...member } };
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const removed = this.rooms.get(roomId)?.members.delete(userId) ?? false;
    const rooms = this.roomsByUser.get(userId);
    rooms?.delete(roomId);
    if (rooms?.size === 0) this.roomsByUser.delete(userId);
    return removed;
  }

  private add(roomId: string, member: Member): void {
    this.rooms.get(roomId)?.members.set(member.user_id, { ...member });
    let rooms = this.roomsByUser.get(member.user_id);
    if (!rooms) this.roomsByUser.set(member.user_id, (rooms = new Set()));
    rooms.add(roomId);
  }

  private view(entry: Entry): Room {
    return { ...entry.room, member_ids: [...entry.members.keys()] };
  }
}
