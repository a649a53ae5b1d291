import { Inject, Injectable, Logger } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { DomainError } from '../core/domain.error.js';
import { newId } from '../core/ids.js';
import { cutAt } from '../core/text.js';
import { ConnectionSlots } from '../limits/connection-slots.js';
import type { RoomLatest } from '../messages/message.store.js';
import { MessagesService } from '../messages/messages.service.js';
import type { ReadPosition } from '../messages/read.store.js';
import { ReadStateService, unreadCount } from '../messages/read-state.service.js';
import { UsersService } from '../users/users.service.js';
import { ROOM_STORE, directPair, type Member, type MembershipLimits, type Page, type Room, type RoomStore, type RoomType } from './room.store.js';

/** Characters of `last_message_content`: a preview, not the message. */
export const PREVIEW_LENGTH = 100;
/** What a deleted latest message previews as. */
export const DELETED_PREVIEW = 'This message was deleted';

/** A room as lists show it to one user (PROTOCOL §5, "Room summary"). */
export interface RoomSummary extends Room {
  last_message_content: string | null;
  last_message_sender_id: string | null;
  unread_count: number;
  partner_id?: string;
  partner_username?: string;
  partner_email?: string | null;
  partner_profile_image?: string | null;
  partner_is_online?: boolean;
}

/** A member with how far they have read. */
export interface MemberWithReads extends Member {
  last_read_at: string | null;
  unread_count: number;
}

/** Who is asking, for the REST rules of PROTOCOL §5. */
export interface Caller {
  userId: string;
  isService: boolean;
}

export interface NewRoom {
  room_type: RoomType;
  team_id?: string;
  room_name?: string;
  description?: string;
  member_ids?: string[];
}

/**
 * How often at most a room's members hear that its membership changed
 * (`room_updated`, a summary each, to every connection of every member): the
 * first change at once, those after it together once this has passed.
 */
const ROOM_UPDATED_EVERY_MS = 1_000;

/**
 * Rooms and membership, and their rules: who may join a room, who may read
 * and post to it, and the REST rules of PROTOCOL §5. Takes ids, returns
 * values; a removal is published on the bus for every instance's sockets.
 */
@Injectable()
export class RoomsService {
  private readonly logger = new Logger(RoomsService.name);
  /** Rooms whose members heard of a change less than ROOM_UPDATED_EVERY_MS ago; `again`: another came since. */
  private readonly updated = new Map<string, { again: boolean }>();

  constructor(
    @Inject(ROOM_STORE) private readonly store: RoomStore,
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly messages: MessagesService,
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly reads: ReadStateService,
    private readonly users: UsersService,
    private readonly slots: ConnectionSlots,
  ) {}

  /**
   * Throws unless the user may join the room on a connection (a member;
   * answers from memory while the store is away). A room whose stored data
   * is damaged throws a plain error (`internal_error`), as every read of it does.
   */
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
      ...(input.team_id === undefined ? {} : { team_id: input.team_id }),
      ...(input.room_type === 'direct' ? { direct_user_ids: [caller.userId, others[0]] } : {}),
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
        await this.announce(members.map((m) => m.user_id), outcome.roomId, 'room_added');
        return { room: { ...room, room_id: outcome.roomId, member_ids: members.map((m) => m.user_id) }, created: true };
      case 'exists':
        return { room: await this.reopenDirect(outcome.roomId, [caller.userId, others[0]]), created: false };
      case 'owner_quota':
        throw new DomainError('limit_reached', `You have created ${quotas.roomsCreatedPerUser} rooms, the most allowed`);
      case 'user_full':
        throw new DomainError('limit_reached', `${outcome.userId} is already in ${quotas.roomsPerUser} rooms, the most allowed`);
    }
  }

  /**
   * A page of the caller's rooms as summaries, the most recently active
   * first (latest message, else creation), optionally of one type. Three
   * round trips to the stores whatever the number of rooms: the user's room
   * ids; every room, its latest message and the caller's read position; the
   * page's direct partners' profiles and presence.
   */
  async list(caller: Caller, offset: number, limit: number, roomType?: RoomType): Promise<Page<RoomSummary>> {
    const ids = await this.store.roomIdsOf(caller.userId);
    const [rooms, latest, positions] = await Promise.all([
      this.store.getMany(ids),
      this.messages.latest(ids),
      this.reads.ofUser(caller.userId, ids),
    ]);
    const entries = ids
      .map((_, i) => ({ room: rooms[i], latest: latest[i], position: positions[i] }))
      .filter((e): e is Entry => e.room !== undefined && (roomType === undefined || e.room.room_type === roomType))
      .map((e, order) => ({ ...e, order, activity: e.latest.message?.created_at ?? e.room.created_at }))
      .sort((a, b) => (a.activity < b.activity ? 1 : a.activity > b.activity ? -1 : a.order - b.order));
    return { items: await this.summarize(caller.userId, entries.slice(offset, offset + limit)), total: entries.length };
  }

  async get(caller: Caller, roomId: string): Promise<RoomSummary> {
    const room = await this.readable(caller, roomId);
    return this.summary(caller.userId, room);
  }

  /** The room as `userId` sees it in their list. */
  async summaryFor(userId: string, roomId: string): Promise<RoomSummary | undefined> {
    const room = await this.store.get(roomId);
    return room && room.member_ids.includes(userId) ? this.summary(userId, room) : undefined;
  }

  /** Unread messages over all the user's rooms: two round trips. */
  async unreadTotal(userId: string): Promise<number> {
    const ids = await this.store.roomIdsOf(userId);
    const [latest, positions] = await Promise.all([this.messages.latest(ids), this.reads.ofUser(userId, ids)]);
    return ids.reduce((sum, _, i) => sum + unreadCount(latest[i].seq, positions[i]), 0);
  }

  /**
   * Marks the room read for a member, up to `upTo` or its latest message.
   * The room hears `read`; the member's other connections hear their new
   * counts (`connectionId` is the one that read, which knows).
   */
  async markRead(caller: Caller, roomId: string, upTo?: number, connectionId = ''): Promise<{ seq: number; unread: number }> {
    await this.assertMember(caller, roomId);
    const read = await this.reads.markRead(roomId, caller.userId, upTo);
    if (read.moved) await this.bus.publishToUser(caller.userId, { type: 'unread', data: { room_id: roomId, connection_id: connectionId } });
    return { seq: read.seq, unread: read.unread };
  }

  /** The user's unread messages in one room and over all their rooms, from one reading of both. */
  async unreadCounts(userId: string, roomId: string): Promise<{ unread: number; total: number }> {
    const ids = await this.store.roomIdsOf(userId);
    const [latest, positions] = await Promise.all([this.messages.latest(ids), this.reads.ofUser(userId, ids)]);
    let unread = 0;
    let total = 0;
    ids.forEach((id, i) => {
      const count = unreadCount(latest[i].seq, positions[i]);
      total += count;
      if (id === roomId) unread = count;
    });
    return { unread, total };
  }

  /** A page of the room's members, in the order they joined, with how far each has read. */
  async members(caller: Caller, roomId: string, offset: number, limit: number): Promise<Page<MemberWithReads>> {
    await this.readable(caller, roomId);
    const page = await this.store.members(roomId, offset, limit);
    const [[latest], positions] = await Promise.all([
      this.messages.latest([roomId]),
      this.reads.inRoom(roomId, page.items.map((m) => m.user_id)),
    ]);
    const items = page.items.map((member, i) => ({
      ...member,
      last_read_at: positions[i]?.at ?? null,
      unread_count: unreadCount(latest.seq, positions[i]),
    }));
    return { items, total: page.total };
  }

  /** The owner (while still a member) or a service token adds a member, within the quotas. */
  async addMember(caller: Caller, roomId: string, userId: string): Promise<Member> {
    const room = await this.existing(roomId);
    const isOwner = caller.userId === room.owner_id && room.member_ids.includes(caller.userId);
    if (!caller.isService && !isOwner) {
      throw new DomainError('forbidden', 'Only the owner, while a member, adds members');
    }
    if (!room.member_ids.includes(userId)) assertTakesMembers(room);
    const { member, added } = await this.add(room, userId);
    if (added) await this.announceJoined(room, userId);
    return member;
  }

  /** The user's membership of the room (when they joined it this time), or undefined. */
  member(roomId: string, userId: string): Promise<Member | undefined> {
    return this.store.member(roomId, userId);
  }

  /** Whether the user is a member of the room (false for an unknown room; a damaged one throws). */
  isMember(roomId: string, userId: string): Promise<boolean> {
    return this.store.isMember(roomId, userId);
  }

  /**
   * Adds the caller to a room on a valid invitation (the invitation service
   * checked it), within the quotas. False when the caller was a member
   * already (a concurrent join of theirs came first).
   */
  async join(roomId: string, caller: Caller): Promise<boolean> {
    const room = await this.existing(roomId);
    if (!room.member_ids.includes(caller.userId)) assertTakesMembers(room);
    const { added } = await this.add(room, caller.userId);
    if (added) await this.announceJoined(room, caller.userId);
    return added;
  }

  /** A new member's connections learn of the room (`room_added`), the other members of the change (`room_updated`). */
  private async announceJoined(room: Room, userId: string): Promise<void> {
    await this.announce([userId], room.room_id, 'room_added');
    await this.announceUpdated(room, userId);
  }

  /**
   * Removes a member: the owner while still a member, the member themself,
   * or a service token; their connections on every instance leave the room at once.
   */
  async removeMember(caller: Caller, roomId: string, userId: string): Promise<void> {
    const room = await this.existing(roomId);
    const isOwner = caller.userId === room.owner_id && room.member_ids.includes(caller.userId);
    if (!caller.isService && !isOwner && caller.userId !== userId) {
      throw new DomainError('forbidden', 'Only the owner, while a member, or the member themself removes a member');
    }
    if (!(await this.store.removeMember(roomId, userId))) {
      throw new DomainError('not_found', `${userId} is not a member of this room`);
    }
    await this.bus.publish(roomId, { type: 'member_removed', data: { user_id: userId } });
    await this.announceUpdated(room, userId);
  }

  /**
   * Creates a team room from members' emails, found in the user directory;
   * emails nobody has are answered, not added (no e-mail is sent).
   */
  async createFromEmails(
    caller: Caller,
    input: { room_name: string; description?: string; member_emails: string[] },
  ): Promise<{ room: Room; emailsNotFound: string[] }> {
    const found = await this.users.findByEmail(input.member_emails);
    const memberIds = found.filter((id): id is string => id !== undefined);
    const emailsNotFound = input.member_emails.filter((_, i) => found[i] === undefined);
    const { room } = await this.create(caller, { room_type: 'team', room_name: input.room_name, description: input.description, member_ids: memberIds });
    return { room, emailsNotFound };
  }

  /** The room as `userId` sees it: one round trip for its latest message and their read position, one for a partner. */
  async summary(userId: string, room: Room): Promise<RoomSummary> {
    const [[latest], [position]] = await Promise.all([this.messages.latest([room.room_id]), this.reads.ofUser(userId, [room.room_id])]);
    const [summary] = await this.summarize(userId, [{ room, latest, position }]);
    return summary;
  }

  /** Summaries of rooms whose latest message and read position are known: the direct partners' profiles and presence in one round trip each. */
  private async summarize(userId: string, entries: Entry[]): Promise<RoomSummary[]> {
    const partners = entries.map(({ room }) => (room.room_type === 'direct' ? partnerOf(room, userId) : undefined));
    const wanted = [...new Set(partners.filter((id): id is string => id !== undefined))];
    const [profiles, online] = await Promise.all([this.users.profiles(wanted), this.slots.online(wanted)]);
    const byId = new Map(wanted.map((id, i) => [id, { profile: profiles[i], online: online[i] }]));
    return entries.map(({ room, latest, position }, i) => {
      const last = latest.message;
      const { direct_user_ids: _pair, ...shown } = room;
      const summary: RoomSummary = {
        ...shown,
        last_message_at: last?.created_at ?? null,
        last_message_content: last ? preview(last.is_deleted ? DELETED_PREVIEW : last.content) : null,
        last_message_sender_id: last?.sender_id ?? null,
        unread_count: unreadCount(latest.seq, position),
      };
      const partner = partners[i] === undefined ? undefined : byId.get(partners[i]);
      if (partner) {
        summary.partner_id = partner.profile.user_id;
        summary.partner_username = partner.profile.username ?? partner.profile.user_id;
        summary.partner_email = partner.profile.email;
        summary.partner_profile_image = partner.profile.profile_image;
        summary.partner_is_online = partner.online;
      }
      return summary;
    });
  }

  /**
   * Tells the members but `changed` that the room's membership changed, at
   * once unless they heard of it less than ROOM_UPDATED_EVERY_MS ago: then
   * once that has passed, the members as they are then, for every change
   * meanwhile. One owner adding and removing a member in a loop would
   * otherwise send every member's connections a summary (with up to 1000
   * member ids) per request.
   */
  private async announceUpdated(room: Room, changed?: string): Promise<void> {
    const pending = this.updated.get(room.room_id);
    if (pending) {
      pending.again = true;
      return;
    }
    this.updated.set(room.room_id, { again: false });
    setTimeout(() => void this.announceUpdatedAgain(room.room_id), ROOM_UPDATED_EVERY_MS).unref();
    await this.announce(room.member_ids.filter((id) => id !== changed), room.room_id, 'room_updated');
  }

  private async announceUpdatedAgain(roomId: string): Promise<void> {
    const pending = this.updated.get(roomId);
    this.updated.delete(roomId);
    if (!pending?.again) return;
    try {
      const room = await this.store.get(roomId);
      if (room) await this.announceUpdated(room);
    } catch (error) {
      this.logger.warn(`Could not tell room ${roomId}'s members of its changes: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Tells each user's connections, on every instance, that the room was added for them or changed. */
  private async announce(userIds: string[], roomId: string, type: 'room_added' | 'room_updated'): Promise<void> {
    await Promise.all(userIds.map((userId) => this.bus.publishToUser(userId, { type, data: { room_id: roomId } })));
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

  /**
   * Adds a member: the member, and whether this call added them (false: they
   * were one already). The room's owner, back after leaving, is its owner again.
   */
  private async add(room: Room, userId: string): Promise<{ member: Member; added: boolean }> {
    const role = userId === room.owner_id ? 'owner' : 'member';
    const member: Member = { user_id: userId, role, joined_at: new Date().toISOString() };
    const outcome = await this.store.addMember(room.room_id, member, this.membershipLimits());
    const { membersPerRoom, roomsPerUser } = this.settings.quotas;
    if (outcome.status === 'room_full') throw new DomainError('limit_reached', `The room has ${membersPerRoom} members, the most allowed`);
    if (outcome.status === 'user_full') throw new DomainError('limit_reached', `${userId} is already in ${roomsPerUser} rooms, the most allowed`);
    return { member: outcome.member, added: outcome.status === 'added' };
  }

  /** The existing direct room of two users, with either of them who left it added back. */
  private async reopenDirect(roomId: string, users: string[]): Promise<Room> {
    const room = await this.existing(roomId);
    for (const userId of users) {
      if (room.member_ids.includes(userId)) continue;
      const { added } = await this.add(room, userId);
      if (added) await this.announce([userId], roomId, 'room_added');
    }
    return this.existing(roomId);
  }

  private membershipLimits(): MembershipLimits {
    return { membersPerRoom: this.settings.quotas.membersPerRoom, roomsPerUser: this.settings.quotas.roomsPerUser };
  }
}

/** A direct room is its two users' alone: one who left comes back through `POST /rooms/direct` only, and no one else comes in. */
export function assertTakesMembers(room: Room): void {
  if (room.room_type === 'direct') throw new DomainError('invalid_input', 'A direct room is for its two users only; it takes no other members');
}

interface Entry {
  room: Room;
  latest: RoomLatest;
  position: ReadPosition | undefined;
}

/**
 * The other user of a direct room, also after they left it (a room made
 * before the pair was kept names them while they are a member, or as its
 * owner); undefined when it cannot be told.
 */
function partnerOf(room: Room, userId: string): string | undefined {
  const others = (users: string[] | undefined) => users?.find((id) => id !== userId);
  return others(room.direct_user_ids) ?? others(room.member_ids) ?? (room.owner_id === userId ? undefined : room.owner_id);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * At most PREVIEW_LENGTH characters (string length, as PROTOCOL counts
 * them): longer content is cut to whole user-perceived characters, so an
 * emoji sequence is never split, and ends with '…'.
 */
export function preview(content: string): string {
  if (content.length <= PREVIEW_LENGTH) return content;
  const room = PREVIEW_LENGTH - 1;
  let end = 0;
  for (const { segment } of graphemes.segment(content)) {
    if (end + segment.length > room) break;
    end += segment.length;
  }
  // A first "character" longer than the whole preview (marks piled on one letter) is cut between code points.
  return `${end === 0 ? cutAt(content, room) : content.slice(0, end)}…`;
}
