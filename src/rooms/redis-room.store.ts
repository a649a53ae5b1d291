import { LimitKeys } from '../redis/limit-keys.js';
import { RedisService } from '../redis/redis.service.js';
import { ADD_MEMBER, CREATE } from './room.scripts.js';
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

/**
 * Rooms in Redis: `…:info` holds the room as JSON, `…:members` a hash of
 * user id → member JSON, and `chat:user:<id>:rooms` a sorted set of the
 * user's rooms by when they joined; beside them (`LimitKeys`) each owner's
 * count of rooms created and each direct pair's room id. Writes that a
 * limit guards are one script each, so the check and the write are atomic.
 *
 * Membership answers are remembered, so that while Redis is away this
 * instance can still let known members join (PROTOCOL §2, "When the shared
 * store is away"); every other call then fails with `StoreUnavailableError`.
 */
export class RedisRoomStore implements RoomStore {
  private readonly knownMembers = new Map<string, boolean>();
  private readonly limitKeys: LimitKeys;

  constructor(private readonly redis: RedisService) {
    this.limitKeys = new LimitKeys(redis.keys.prefix);
  }

  async create(room: Room, members: Member[], limits: CreateLimits, direct?: string): Promise<CreateOutcome> {
    const { keys } = this.redis;
    const scriptKeys = [
      keys.room(room.room_id, 'info'),
      keys.room(room.room_id, 'members'),
      this.limitKeys.roomsCreated(room.owner_id),
      this.limitKeys.directRoom(direct ?? ''),
      ...members.map((m) => keys.userRooms(m.user_id)),
    ];
    const args: Array<string | number> = [
      room.room_id,
      JSON.stringify({ ...room, member_ids: [] }),
      direct === undefined ? '0' : '1',
      limits.roomsCreatedByOwner ?? -1,
      limits.roomsPerUser,
      ...members.flatMap((m) => [m.user_id, JSON.stringify(m), Date.parse(m.joined_at)]),
    ];
    const [status, detail] = (await this.redis.call(() => this.redis.run(CREATE, scriptKeys, args))) as [string, string?];
    switch (status) {
      case 'created':
        return { status };
      case 'exists':
        return { status, roomId: String(detail) };
      case 'user_full':
        return { status, userId: String(detail) };
      default:
        return { status: 'owner_quota' };
    }
  }

  async get(roomId: string): Promise<Room | undefined> {
    const { client, keys } = this.redis;
    const [info, memberIds] = await this.redis.call(() =>
      Promise.all([client.get(keys.room(roomId, 'info')), client.hkeys(keys.room(roomId, 'members'))]),
    );
    return info === null ? undefined : { ...(JSON.parse(info) as Room), member_ids: memberIds };
  }

  /** A page of the user's room ids, then those rooms: two round trips, each command in one slot. */
  async listForUser(userId: string, offset: number, limit: number): Promise<Page<Room>> {
    const { client, keys } = this.redis;
    const [ids, total] = await this.redis.call(() =>
      Promise.all([client.zrevrange(keys.userRooms(userId), offset, offset + limit - 1), client.zcard(keys.userRooms(userId))]),
    );
    const rooms = await this.getMany(ids);
    return { items: rooms.filter((room): room is Room => room !== undefined), total };
  }

  /** A GET and an HKEYS per room, pipelined: one round trip, each command in its room's slot. */
  async getMany(roomIds: string[]): Promise<Array<Room | undefined>> {
    if (roomIds.length === 0) return [];
    const { client, keys } = this.redis;
    const pipeline = client.pipeline();
    for (const roomId of roomIds) pipeline.get(keys.room(roomId, 'info')).hkeys(keys.room(roomId, 'members'));
    const replies = (await this.redis.call(() => pipeline.exec())) ?? [];
    for (const [error] of replies) if (error) throw error;
    return roomIds.map((_, i) => {
      const info = replies[2 * i][1] as string | null;
      return info === null ? undefined : { ...(JSON.parse(info) as Room), member_ids: replies[2 * i + 1][1] as string[] };
    });
  }

  async roomIdsOf(userId: string): Promise<string[]> {
    return this.redis.call(() => this.redis.client.zrevrange(this.redis.keys.userRooms(userId), 0, -1));
  }

  /** In the order members joined (ties by user id), so pages are stable. */
  async members(roomId: string, offset: number, limit: number): Promise<Page<Member>> {
    const all = await this.redis.call(() => this.redis.client.hvals(this.redis.keys.room(roomId, 'members')));
    const sorted = all
      .map((json) => JSON.parse(json) as Member)
      .sort((a, b) => a.joined_at.localeCompare(b.joined_at) || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
    return { items: sorted.slice(offset, offset + limit), total: sorted.length };
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    const key = `${roomId}\n${userId}`;
    try {
      const member = (await this.redis.client.hexists(this.redis.keys.room(roomId, 'members'), userId)) === 1;
      this.remember(key, member);
      return member;
    } catch (error) {
      const known = this.knownMembers.get(key);
      if (known !== undefined) return known;
      return this.redis.call(() => Promise.reject(error));
    }
  }

  async addMember(roomId: string, member: Member, limits: MembershipLimits): Promise<AddOutcome> {
    const { keys } = this.redis;
    const [status, json] = (await this.redis.call(() =>
      this.redis.run(
        ADD_MEMBER,
        [keys.room(roomId, 'members'), keys.userRooms(member.user_id)],
        [member.user_id, JSON.stringify(member), Date.parse(member.joined_at), roomId, limits.membersPerRoom, limits.roomsPerUser],
      ),
    )) as [string, string?];
    if (status === 'room_full' || status === 'user_full') return { status };
    this.remember(`${roomId}\n${member.user_id}`, true);
    return { status: status === 'added' ? 'added' : 'existing', member: JSON.parse(String(json)) as Member };
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const { client, keys } = this.redis;
    return this.redis.call(async () => {
      const [[, removed]] = (await client
        .multi()
        .hdel(keys.room(roomId, 'members'), userId)
        .zrem(keys.userRooms(userId), roomId)
        .exec()) as [[Error | null, number]];
      this.remember(`${roomId}\n${userId}`, false);
      return removed === 1;
    });
  }

  private remember(key: string, member: boolean): void {
    this.knownMembers.delete(key);
    this.knownMembers.set(key, member);
    if (this.knownMembers.size > MAX_REMEMBERED) {
      this.knownMembers.delete(this.knownMembers.keys().next().value as string);
    }
  }
}
