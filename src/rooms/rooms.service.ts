import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { ChatError } from '../chat/chat.error.js';
import type { Connection } from '../chat/connection.js';
import type { ServerFrame } from '../chat/protocol.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { MessagesService, type Recovery, type Since } from '../messages/messages.service.js';
import { PresenceService } from '../presence/presence.service.js';
import type { LocalRoom } from './local-room.js';
import { RoomFanout } from './room-fanout.js';
import { ROOM_STORE, type Member, type Room, type RoomStore } from './room.store.js';

/** The epoch a join answers with while the store is away: matches no history, so the next `since` reloads. */
const UNKNOWN_EPOCH = 'unknown';

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

/** The answer to a join, and the step that lets the room's live events through after it. */
export interface Join {
  joined: Extract<ServerFrame, { type: 'joined' }>;
  complete(): void;
}

/**
 * Rooms and membership: who may join, the joins and leaves of local
 * connections, and the REST rules of PROTOCOL §5. Room events from the bus
 * go to the fan-out, except a removal, which makes connections leave.
 */
@Injectable()
export class RoomsService implements OnModuleInit {
  private readonly logger = new Logger(RoomsService.name);

  constructor(
    @Inject(ROOM_STORE) private readonly store: RoomStore,
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly fanout: RoomFanout,
    private readonly presence: PresenceService,
    private readonly messages: MessagesService,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  onModuleInit(): void {
    this.bus.onEvent((roomId, event) => {
      if (event.type === 'member_removed') this.removeLocally(roomId, event.data.user_id);
      else this.fanout.deliver(roomId, event);
    });
    this.bus.onResync(() => this.fanout.resync());
  }

  // ── Joining and leaving on a connection ────────────────────────────────

  async join(connection: Connection, roomId: string, since?: Since): Promise<Join> {
    const max = this.settings.limits.maxRoomsPerConnection;
    if (!connection.rooms.has(roomId) && connection.rooms.size >= max) {
      throw new ChatError('too_many_rooms', `A connection may join at most ${max} rooms`, roomId);
    }
    // Attached before the first await, so a close or a removal meanwhile
    // finds the connection in the room and takes it out.
    const room = this.fanout.attach(connection, roomId);
    let presence: { online: string[]; typing: string[] };
    let recovery: Recovery;
    try {
      if (!(await this.store.isMember(roomId, connection.userId))) {
        throw new ChatError('not_a_member', 'You are not a member of this room', roomId);
      }
      await room.subscribed;
      presence = await this.presence.joined(roomId, connection);
      recovery = await this.messages
        .recover(roomId, since, this.settings.messages.recoveryMaxMessages)
        .catch((error: unknown) => this.withoutStore(error, room));
    } catch (error) {
      await this.leave(connection, roomId);
      throw error;
    }
    if (!connection.rooms.has(roomId)) {
      // Closed or left while joining: undo what this join recorded.
      await this.presence.left(roomId, connection);
      throw new ChatError('not_joined', 'The room was left while joining', roomId);
    }
    const { head, messages, recovered } = recovery;
    const upToSeq = Math.max(head.seq, messages.at(-1)?.seq ?? 0);
    if (head.epoch !== UNKNOWN_EPOCH) {
      room.lastSeq ??= head.seq;
      room.epoch ??= head.epoch;
    }
    return {
      joined: { type: 'joined', room_id: roomId, seq: upToSeq, epoch: head.epoch, recovered, ...presence },
      complete: () => {
        for (const message of messages) connection.send({ type: 'message', message });
        room.release(connection, upToSeq);
      },
    };
  }

  /**
   * While the shared store is away a join still succeeds, from what this
   * instance knows of the room; nothing is recovered.
   */
  private withoutStore(error: unknown, room: LocalRoom): Recovery {
    if (!(error instanceof ChatError) || error.code !== 'unavailable') throw error;
    const head = { seq: room.lastSeq ?? 0, epoch: room.epoch ?? UNKNOWN_EPOCH, lastMessageAt: null };
    return { head, messages: [], recovered: false };
  }

  /** Leaves one room; false if the connection had not joined it. */
  async leave(connection: Connection, roomId: string): Promise<boolean> {
    if (!connection.rooms.delete(roomId)) return false;
    await this.fanout.detach(connection, roomId);
    await this.presence.left(roomId, connection);
    return true;
  }

  async leaveAll(connection: Connection): Promise<void> {
    await Promise.all([...connection.rooms].map((roomId) => this.leave(connection, roomId)));
  }

  /** A member was removed (on any instance): their connections here leave the room. */
  private removeLocally(roomId: string, userId: string): void {
    for (const connection of this.fanout.connections(roomId)) {
      if (connection.userId !== userId) continue;
      this.leave(connection, roomId)
        .then((left) => left && connection.send({ type: 'left', room_id: roomId, reason: 'removed' }))
        .catch((error: unknown) => this.logger.error(error));
    }
  }

  // ── Rooms and members (REST) ───────────────────────────────────────────

  async create(caller: Caller, input: NewRoom): Promise<Room> {
    const others = [...new Set(input.member_ids ?? [])].filter((id) => id !== caller.userId);
    if (input.room_type === 'direct' && others.length !== 1) {
      throw new ChatError('invalid_frame', 'member_ids must name exactly one other user for a direct room');
    }
    const now = new Date().toISOString();
    const room: Room = {
      room_id: randomUUID(),
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
    await this.store.create(room, members);
    return { ...room, member_ids: members.map((m) => m.user_id) };
  }

  async list(caller: Caller): Promise<Room[]> {
    const rooms = await this.store.listForUser(caller.userId);
    return Promise.all(rooms.map((room) => this.withLastMessage(room)));
  }

  async get(caller: Caller, roomId: string): Promise<Room> {
    const room = await this.readable(caller, roomId);
    return this.withLastMessage(room);
  }

  async members(caller: Caller, roomId: string): Promise<Member[]> {
    await this.readable(caller, roomId);
    return this.store.members(roomId);
  }

  async addMember(caller: Caller, roomId: string, userId: string): Promise<Member> {
    const room = await this.existing(roomId);
    if (!caller.isService && caller.userId !== room.owner_id) {
      throw new ChatError('forbidden', 'Only the owner adds members');
    }
    return this.store.addMember(roomId, { user_id: userId, role: 'member', joined_at: new Date().toISOString() });
  }

  /** Removes a member; their connections on every instance leave the room at once. */
  async removeMember(caller: Caller, roomId: string, userId: string): Promise<void> {
    const room = await this.existing(roomId);
    if (!caller.isService && caller.userId !== room.owner_id && caller.userId !== userId) {
      throw new ChatError('forbidden', 'Only the owner or the member themself removes a member');
    }
    if (!(await this.store.removeMember(roomId, userId))) {
      throw new ChatError('not_found', `${userId} is not a member of this room`);
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
      throw new ChatError('not_a_member', 'You are not a member of this room', roomId);
    }
    return room;
  }

  private async existing(roomId: string): Promise<Room> {
    const room = await this.store.get(roomId);
    if (!room) throw new ChatError('not_found', 'No such room');
    return room;
  }

  private async withLastMessage(room: Room): Promise<Room> {
    const head = await this.messages.head(room.room_id);
    return { ...room, last_message_at: head.lastMessageAt };
  }
}
