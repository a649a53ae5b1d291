import { Logger } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { DamagedRoomError } from './damaged-room.error.js';
import { LimitKeys } from '../redis/limit-keys.js';
import { RedisService } from '../redis/redis.service.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';
import { decodeMember, decodeRoomInfo } from './stored-room.js';
import { ADD_TO_ROOM, COUNT_CREATED, FOLLOW, MEMBERSHIP, RELEASE_DIRECT, REMOVE_FROM_ROOM, RESERVE, RESERVE_ADD, WRITE_ROOM } from './room.scripts.js';
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

/**
 * Membership answers remembered for outages, at most this many (oldest
 * forgotten first). A bound on memory rather than a setting: past it, a
 * join during an outage is refused as it would be without the memory.
 */
const MAX_REMEMBERED = 100_000;

/** How long an add stays counted in flight at most: one left by an instance that stopped midway lapses then. */
const ADD_IN_FLIGHT_MS = 60_000;
/**
 * A direct pair claimed by a create still taking its steps is polled this
 * often, at most this long; a claim left unfinished longer is finished by
 * the waiting create, under the claimed room id.
 */
const DIRECT_CLAIM_POLL_MS = 10;
const DIRECT_CLAIM_WAIT_MS = 5_000;

/**
 * Rooms in Redis: `…:info` holds the room as JSON, `…:members` a hash of
 * user id → member JSON, and `chat:user:<id>:rooms` a sorted set of the
 * user's rooms by when they joined; beside them (`LimitKeys`) each owner's
 * count of rooms created and each direct pair's room id.
 *
 * A room's keys, a user's list, an owner's counter and a pair's key sit in
 * different slots (on a Redis Cluster, often on different nodes), so no step
 * writes two of them at once: each limit is a check-and-write script on its
 * own key that reserves its share first (the pair's room, the owner's count,
 * each user's place), undone if a later step refuses, and the room is
 * written last. A limit is never exceeded; while a refused attempt undoes
 * its reservations, a concurrent one may be refused where it would have
 * passed a moment later. A crash between steps can leave a reservation
 * behind (a count one too high, a list naming a room that is not there,
 * which readers skip), never a room past a limit.
 *
 * A member added to or removed from an existing room: the add is marked in
 * flight in the user's slot (so it counts toward their limit), made in the
 * room's, and the user's list then follows the membership's version, so an
 * add and a removal racing on two instances leave the list agreeing with
 * the members hash.
 *
 * Membership answers are remembered, so that while Redis is away this
 * instance can still let known members join (PROTOCOL §2, "When the shared
 * store is away"); every other call then fails with `StoreUnavailableError`.
 */
export class RedisRoomStore implements RoomStore {
  private readonly logger = new Logger(RedisRoomStore.name);
  private readonly knownMembers = new Map<string, boolean>();
  private readonly limitKeys: LimitKeys;

  constructor(private readonly redis: RedisService) {
    this.limitKeys = new LimitKeys(redis.keys.prefix);
  }

  async create(room: Room, members: Member[], limits: CreateLimits, direct?: string): Promise<CreateOutcome> {
    const { client, keys } = this.redis;
    const directKey = this.limitKeys.directRoom(direct ?? '');
    const createdKey = this.limitKeys.roomsCreated(room.owner_id);
    return this.redis.call(async () => {
      // The pair's room is claimed first; a claim released meanwhile is tried again.
      let roomId = room.room_id;
      let claimed = direct !== undefined;
      for (let waited = 0; direct !== undefined && (await client.set(directKey, room.room_id, 'NX')) === null; ) {
        const existing = await client.get(directKey);
        if (existing === null) continue;
        // Answered only once the room is written: a claim may still be taking its steps.
        if ((await client.exists(keys.room(existing, 'info'))) === 1) return { status: 'exists', roomId: existing };
        if (waited >= DIRECT_CLAIM_WAIT_MS) {
          // A claim unfinished this long (a stopped instance, or a very slow one):
          // finished here under the claimed id. Whichever write lands first is the pair's one room.
          roomId = existing;
          claimed = false;
          break;
        }
        await delay(DIRECT_CLAIM_POLL_MS);
        waited += DIRECT_CLAIM_POLL_MS;
      }
      const undo: Array<() => Promise<unknown>> = [];
      if (claimed) undo.push(() => this.redis.run(RELEASE_DIRECT, [directKey], [roomId]));
      /** Undoes this create's steps; true instead when an adopter has written the room meanwhile: it stands, with its lists. */
      const rollback = async (): Promise<boolean> => {
        if ((await client.exists(keys.room(roomId, 'info'))) === 1) return true;
        for (const step of undo.reverse()) await step();
        return false;
      };
      if ((await this.redis.run(COUNT_CREATED, [createdKey], [limits.roomsCreatedByOwner ?? -1])) === 0) {
        return (await rollback()) ? { status: 'exists', roomId } : { status: 'owner_quota' };
      }
      undo.push(() => client.decr(createdKey));
      const now = Date.now();
      for (const member of members) {
        const userRooms = keys.userRooms(member.user_id);
        const reserved = await this.redis.run(
          RESERVE,
          [userRooms, keys.userRoomsPending(member.user_id)],
          [roomId, Date.parse(member.joined_at), limits.roomsPerUser, now, ADD_IN_FLIGHT_MS],
        );
        if (reserved === 0) {
          return (await rollback()) ? { status: 'exists', roomId } : { status: 'user_full', userId: member.user_id };
        }
        // Under an adopted claim the claimant, still running, may count on this same entry: a refusal
        // leaves it, as a crash would (a list naming a room that is not there, which readers skip).
        if (reserved === 1 && roomId === room.room_id) undo.push(() => client.zrem(userRooms, roomId));
      }
      const written = await this.redis.run(
        WRITE_ROOM,
        [keys.room(roomId, 'info'), keys.room(roomId, 'members')],
        [JSON.stringify({ ...room, room_id: roomId, member_ids: [] }), ...members.flatMap((m) => [m.user_id, JSON.stringify(m)])],
      );
      if (written === 0) {
        // The claimant finished first: its room stands, and the users' lists already name it.
        await client.decr(createdKey);
        return { status: 'exists', roomId };
      }
      return { status: 'created', roomId };
    });
  }

  /** Throws `DamagedRoomError` for a room whose stored `info` is damaged: a failure, never "no such room". */
  async get(roomId: string): Promise<Room | undefined> {
    const { client, keys } = this.redis;
    const [info, memberIds] = await this.redis.call(() =>
      Promise.all([client.get(keys.room(roomId, 'info')), client.hkeys(keys.room(roomId, 'members'))]),
    );
    return this.roomOf(roomId, info, memberIds);
  }

  /** Two round trips: a page of the user's room ids with their count, then those rooms (`getMany`). */
  async listForUser(userId: string, offset: number, limit: number): Promise<Page<Room>> {
    const { client, keys } = this.redis;
    const [total, ids] = await this.redis.call(() =>
      Promise.all([client.zcard(keys.userRooms(userId)), client.zrevrange(keys.userRooms(userId), offset, offset + limit - 1)]),
    );
    const rooms = await this.getMany(ids);
    return { items: rooms.filter((room): room is Room => room !== undefined), total };
  }

  /**
   * A GET and an HKEYS per room, sent together: one round trip, one command
   * per key (not one pipeline: the rooms' keys may sit on different cluster nodes).
   */
  async getMany(roomIds: string[]): Promise<Array<Room | undefined>> {
    if (roomIds.length === 0) return [];
    const { client, keys } = this.redis;
    const found = await this.redis.call(() =>
      Promise.all(roomIds.map((id) => Promise.all([client.get(keys.room(id, 'info')), client.hkeys(keys.room(id, 'members'))]))),
    );
    return found.map(([info, memberIds], i) => {
      try {
        return this.roomOf(roomIds[i], info, memberIds);
      } catch (error) {
        // One damaged room fails no list it is in: left out there (a read of the room itself fails).
        if (!(error instanceof DamagedRoomError)) throw error;
        this.logger.warn(`${error.message}; left out`);
        return undefined;
      }
    });
  }

  /** A room as stored: undefined for none; throws `DamagedRoomError` for a damaged `info`. */
  private roomOf(roomId: string, info: string | null, memberIds: string[]): Room | undefined {
    const room = decodeRoomInfo(info, roomId);
    return room && { ...room, member_ids: memberIds };
  }

  /** A member as stored; a damaged entry counts as none (logged). */
  private memberOf(roomId: string, json: string, userId?: string): Member | undefined {
    const member = decodeMember(json, userId);
    if (!member) this.logger.warn(`room ${roomId}: a stored member entry is not a member's; left out`);
    return member;
  }

  async roomIdsOf(userId: string): Promise<string[]> {
    return this.redis.call(() => this.redis.client.zrevrange(this.redis.keys.userRooms(userId), 0, -1));
  }

  /** In the order members joined (ties by user id), so pages are stable. */
  async members(roomId: string, offset: number, limit: number): Promise<Page<Member>> {
    const all = await this.redis.call(() => this.redis.client.hvals(this.redis.keys.room(roomId, 'members')));
    const sorted = all
      .map((json) => this.memberOf(roomId, json))
      .filter((member): member is Member => member !== undefined)
      .sort((a, b) => a.joined_at.localeCompare(b.joined_at) || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
    return { items: sorted.slice(offset, offset + limit), total: sorted.length };
  }

  async member(roomId: string, userId: string): Promise<Member | undefined> {
    const { client, keys } = this.redis;
    const json = await this.redis.call(() => client.hget(keys.room(roomId, 'members'), userId));
    return json === null ? undefined : this.memberOf(roomId, json, userId);
  }

  /** Reads the room's `info` with the membership: a damaged room throws `DamagedRoomError`, as every read of the room. */
  async isMember(roomId: string, userId: string): Promise<boolean> {
    const { client, keys } = this.redis;
    const key = `${roomId}\n${userId}`;
    let member: boolean;
    let info: string | null;
    try {
      [member, info] = await this.redis.call(() =>
        Promise.all([client.hexists(keys.room(roomId, 'members'), userId).then((found) => found === 1), client.get(keys.room(roomId, 'info'))]),
      );
    } catch (error) {
      // Only a store that is away is answered from memory; a damaged key (WRONGTYPE) is a failure like any read of it.
      const known = error instanceof StoreUnavailableError ? this.knownMembers.get(key) : undefined;
      if (known !== undefined) return known;
      throw error;
    }
    decodeRoomInfo(info, roomId); // for its check only: throws for a damaged room
    this.remember(key, member);
    return member;
  }

  /**
   * The members hash and the user's list sit in two slots: the add is
   * marked in flight in the user's slot first (holding the place against
   * the quota), then made in the room's, then the list follows it.
   */
  async addMember(roomId: string, member: Member, limits: MembershipLimits): Promise<AddOutcome> {
    const { client, keys } = this.redis;
    const membersKey = keys.room(roomId, 'members');
    const userId = member.user_id;
    const score = Date.parse(member.joined_at);
    const outcome = await this.redis.call(async (): Promise<AddOutcome> => {
      const [existing, size] = await Promise.all([client.hget(membersKey, userId), client.hlen(membersKey)]);
      if (existing !== null) {
        // The user's room list is made true either way.
        await this.follow(roomId, userId, score, false);
        return { status: 'existing', member: this.memberOf(roomId, existing, userId) ?? member };
      }
      if (size >= limits.membersPerRoom) return { status: 'room_full' };
      const reserved = await this.redis.run(
        RESERVE_ADD,
        [keys.userRooms(userId), keys.userRoomsPending(userId)],
        [roomId, limits.roomsPerUser, Date.now(), ADD_IN_FLIGHT_MS],
      );
      if (reserved === 0) return { status: 'user_full' };
      const [status, json, version] = (await this.redis.run(
        ADD_TO_ROOM,
        [membersKey, keys.room(roomId, 'member-version')],
        [userId, JSON.stringify(member), limits.membersPerRoom],
      )) as [string, string?, number?];
      if (status === 'room_full') {
        await this.follow(roomId, userId, score, true);
        return { status: 'room_full' };
      }
      await this.redis.run(FOLLOW, this.listKeys(userId), [roomId, Number(version), 1, score, 1, ADD_IN_FLIGHT_MS]);
      return { status: status === 'added' ? 'added' : 'existing', member: this.memberOf(roomId, String(json), userId) ?? member };
    });
    if (outcome.status === 'added' || outcome.status === 'existing') this.remember(`${roomId}\n${userId}`, true);
    return outcome;
  }

  /** The room's members hash first, then the user's list follows (see `addMember`). */
  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const { keys } = this.redis;
    return this.redis.call(async () => {
      const [removed, version] = (await this.redis.run(
        REMOVE_FROM_ROOM,
        [keys.room(roomId, 'members'), keys.room(roomId, 'member-version')],
        [userId],
      )) as [number, number];
      if (removed === 1) await this.redis.run(FOLLOW, this.listKeys(userId), [roomId, version, 0, 0, 0, ADD_IN_FLIGHT_MS]);
      this.remember(`${roomId}\n${userId}`, false);
      return removed === 1;
    });
  }

  /**
   * Makes the user's room list agree with the room's members hash as it is
   * now (`ending`: and ends this instance's add in flight): two steps in two
   * slots, so the membership's version decides when such steps race (`FOLLOW`).
   */
  private async follow(roomId: string, userId: string, score: number, ending: boolean): Promise<void> {
    const { keys } = this.redis;
    const [member, version] = (await this.redis.run(MEMBERSHIP, [keys.room(roomId, 'members'), keys.room(roomId, 'member-version')], [userId])) as [
      number,
      number,
    ];
    await this.redis.run(FOLLOW, this.listKeys(userId), [roomId, version, member, score, ending ? 1 : 0, ADD_IN_FLIGHT_MS]);
  }

  private listKeys(userId: string): string[] {
    const { keys } = this.redis;
    return [keys.userRooms(userId), keys.userRoomsPending(userId), keys.userRoomVersions(userId)];
  }

  private remember(key: string, member: boolean): void {
    this.knownMembers.delete(key);
    this.knownMembers.set(key, member);
    if (this.knownMembers.size > MAX_REMEMBERED) {
      this.knownMembers.delete(this.knownMembers.keys().next().value as string);
    }
  }
}
