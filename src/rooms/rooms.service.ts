import { Inject, Injectable } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { DomainError } from '../core/domain.error.js';
import { newId } from '../core/ids.js';
import { MessagesService } from '../messages/messages.service.js';
import { ROOM_STORE, directPair, type Member, type MembershipLimits, type Page, type Room, type RoomStore } from './room.store.js';

/** Who is asking, for the REST rules of PROTOCOL §5. */
export interface Caller {
  userId: string;
  isService: boolean;
}

export interface NewRoom {
  room_type: Room['room_type'];
  room_name?: string;
  description?: string;
  member_ids?: string[];
}

/**
 * Rooms and membership, and their rules: who may join a room, who may read
 * and post to it, and the REST rules of PROTOCOL §5. Takes ids, returns
 * values; a removal is published on the bus for every instance's sockets.
 */
@Injectable()
export class RoomsService {
  constructor(
    @Inject(ROOM_STORE) private readonly store: RoomStore,
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly messages: MessagesService,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  /** Throws unless the user may join the room on a connection (a member; answers from memory while the store is away). */
  async assertMayJoin(userId: string, roomId: string): Promise<void> {
    if (!(await this.store.isMember(roomId, userId))) {
      throw new DomainError('not_a_member', 'You are not a member of this room', roomId);
    }
  }

  /**
   * Creates a room owned by the caller, within the quotas: rooms the caller
   * has created (service tokens are exempt), members per room, rooms per
   * member. A direct room of two users exists once: creating it again
   * answers the existing one, with either user who had left it back in.
   */
  async create(caller: Caller, input: NewRoom): Promise<{ room: Room; created: boolean }> {
    const others = [...new Set(input.member_ids ?? [])].filter((id) => id !== caller.userId);
    if (input.room_type === 'direct' && others.length !== 1) {
      throw new DomainError('invalid_input', 'member_ids must name exactly one other user for a direct room');
    }
    const quotas = this.settings.quotas;
    if (others.length + 1 > quotas.membersPerRoom) {
      throw new DomainError('limit_reached', `A room has at most ${quotas.membersPerRoom} members`);
    }
    const now = new Date().toISOString();
    const room: Room = {
      room_id: newId(),
      room_type: input.room_type,
      room_name: input.room_name ?? null,
      description: input.description ?? null,
      owner_id: caller.userId,
      member_ids: [],
      is_active: true,
      is_archived: false,
      created_at: now,
      last_message_at: null,
    };
    const members: Member[] = [
      { user_id: caller.userId, role: 'owner', joined_at: now },
      ...others.map((user_id): Member => ({ user_id, role: 'member', joined_at: now })),
    ];
    const direct = input.room_type === 'direct' ? directPair(caller.userId, others[0]) : undefined;
    const limits = { ...this.membershipLimits(), roomsCreatedByOwner: caller.isService ? null : quotas.roomsCreatedPerUser };
    const outcome = await this.store.create(room, members, limits, direct);
    switch (outcome.status) {
      case 'created':
        return { room: { ...room, member_ids: members.map((m) => m.user_id) }, created: true };
      case 'exists':
        return { room: await this.reopenDirect(outcome.roomId, [caller.userId, others[0]]), created: false };
      case 'owner_quota':
        throw new DomainError('limit_reached', `You have created ${quotas.roomsCreatedPerUser} rooms, the most allowed`);
      case 'user_full':
        throw new DomainError('limit_reached', `${outcome.userId} is already in ${quotas.roomsPerUser} rooms, the most allowed`);
    }
  }

  /** A page of the caller's rooms, the most recently joined first. */
  async list(caller: Caller, offset: number, limit: number): Promise<Page<Room>> {
    const page = await this.store.listForUser(caller.userId, offset, limit);
    return { items: await this.withLastMessage(page.items), total: page.total };
  }

  async get(caller: Caller, roomId: string): Promise<Room> {
    const room = await this.readable(caller, roomId);
    const [shown] = await this.withLastMessage([room]);
    return shown;
  }

  /** A page of the room's members, in the order they joined. */
  async members(caller: Caller, roomId: string, offset: number, limit: number): Promise<Page<Member>> {
    await this.readable(caller, roomId);
    return this.store.members(roomId, offset, limit);
  }

  /** The owner (while still a member) or a service token adds a member, within the quotas. */
  async addMember(caller: Caller, roomId: string, userId: string): Promise<Member> {
    const room = await this.existing(roomId);
    const isOwner = caller.userId === room.owner_id && room.member_ids.includes(caller.userId);
    if (!caller.isService && !isOwner) {
      throw new DomainError('forbidden', 'Only the owner, while a member, adds members');
    }
    return this.add(roomId, userId);
  }

  /** Removes a member; their connections on every instance leave the room at once. */
  async removeMember(caller: Caller, roomId: string, userId: string): Promise<void> {
    const room = await this.existing(roomId);
    if (!caller.isService && caller.userId !== room.owner_id && caller.userId !== userId) {
      throw new DomainError('forbidden', 'Only the owner or the member themself removes a member');
    }
    if (!(await this.store.removeMember(roomId, userId))) {
      throw new DomainError('not_found', `${userId} is not a member of this room`);
    }
    await this.bus.publish(roomId, { type: 'member_removed', data: { user_id: userId } });
  }

  /** Throws unless the caller may post to the room (a member; a service token is not one). */
  assertMember(caller: Caller, roomId: string): Promise<Room> {
    return this.authorize(caller, roomId, false);
  }

  /** Throws unless the caller may read the room (a member or a service token). */
  readable(caller: Caller, roomId: string): Promise<Room> {
    return this.authorize(caller, roomId, true);
  }

  private async authorize(caller: Caller, roomId: string, serviceMayRead: boolean): Promise<Room> {
    const room = await this.existing(roomId);
    if (!(serviceMayRead && caller.isService) && !room.member_ids.includes(caller.userId)) {
      throw new DomainError('not_a_member', 'You are not a member of this room', roomId);
    }
    return room;
  }

  private async existing(roomId: string): Promise<Room> {
    const room = await this.store.get(roomId);
    if (!room) throw new DomainError('not_found', 'No such room');
    return room;
  }

  private async add(roomId: string, userId: string): Promise<Member> {
    const member: Member = { user_id: userId, role: 'member', joined_at: new Date().toISOString() };
    const outcome = await this.store.addMember(roomId, member, this.membershipLimits());
    const { membersPerRoom, roomsPerUser } = this.settings.quotas;
    if (outcome.status === 'room_full') throw new DomainError('limit_reached', `The room has ${membersPerRoom} members, the most allowed`);
    if (outcome.status === 'user_full') throw new DomainError('limit_reached', `${userId} is already in ${roomsPerUser} rooms, the most allowed`);
    return outcome.member;
  }

  /** The existing direct room of two users, with either of them who left it added back. */
  private async reopenDirect(roomId: string, users: string[]): Promise<Room> {
    const room = await this.existing(roomId);
    for (const userId of users) if (!room.member_ids.includes(userId)) await this.add(roomId, userId);
    const [shown] = await this.withLastMessage([await this.existing(roomId)]);
    return shown;
  }

  private membershipLimits(): MembershipLimits {
    return { membersPerRoom: this.settings.quotas.membersPerRoom, roomsPerUser: this.settings.quotas.roomsPerUser };
  }

  /** The rooms with when their latest message was sent, read for all of them at once. */
  private async withLastMessage(rooms: Room[]): Promise<Room[]> {
    const times = await this.messages.lastMessageAt(rooms.map((room) => room.room_id));
    return rooms.map((room, i) => ({ ...room, last_message_at: times[i] }));
  }
}
