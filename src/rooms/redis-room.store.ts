import { RedisService } from '../redis/redis.service.js';
import type { Member, Room, RoomStore } from './room.store.js';

/**
 * Membership answers remembered for outages, at most this many (oldest
 * forgotten first). A bound on memory rather than a setting: past it, a
 * join during an outage is refused as it would be without the memory.
 */
const MAX_REMEMBERED = 100_000;

/**
 * Rooms in Redis: `…:info` holds the room as JSON, `…:members` a hash of
 * user id → member JSON, and `chat:user:{<id>}:rooms` a sorted set of the
 * user's rooms by when they joined.
 *
 * A room's keys and a user's room list sit in different slots (on a
 * cluster, often on different nodes), so no step writes both at once: the
 * room is written first and the user lists after, and readers of a list skip
 * rooms that are not (or no longer) there, so a crash in between leaves a
 * list at most briefly behind, never pointing at a half-written room.
 *
 * Membership answers are remembered, so that while Redis is away this
 * instance can still let known members join (PROTOCOL §2, "When the shared
 * store is away"); every other call then fails with `StoreUnavailableError`.
 */
export class RedisRoomStore implements RoomStore {
  private readonly knownMembers = new Map<string, boolean>();

  constructor(private readonly redis: RedisService) {}

  async create(room: Room, members: Member[]): Promise<void> {
    const { client, keys } = this.redis;
    await this.redis.call(async () => {
      const tx = client.multi().set(keys.room(room.room_id, 'info'), JSON.stringify({ ...room, member_ids: [] }));
      for (const member of members) tx.hset(keys.room(room.room_id, 'members'), member.user_id, JSON.stringify(member));
      await tx.exec();
      await Promise.all(members.map((member) => client.zadd(keys.userRooms(member.user_id), Date.parse(member.joined_at), room.room_id)));
    });
  }

  async get(roomId: string): Promise<Room | undefined> {
    const { client, keys } = this.redis;
    const [info, memberIds] = await this.redis.call(() =>
      Promise.all([client.get(keys.room(roomId, 'info')), client.hkeys(keys.room(roomId, 'members'))]),
    );
    return info === null ? undefined : { ...(JSON.parse(info) as Room), member_ids: memberIds };
  }

  /**
   * Two round trips: the user's room ids, then every room's info and
   * members at once (one command per key: the rooms' keys may sit on
   * different cluster nodes).
   */
  async listForUser(userId: string): Promise<Room[]> {
    const { client, keys } = this.redis;
    const rooms = await this.redis.call(async () => {
      const ids = await client.zrevrange(keys.userRooms(userId), 0, -1);
      return Promise.all(
        ids.map((id) => Promise.all([client.get(keys.room(id, 'info')), client.hkeys(keys.room(id, 'members'))])),
      );
    });
    return rooms.flatMap(([info, memberIds]) => (info ? [{ ...(JSON.parse(info) as Room), member_ids: memberIds }] : []));
  }

  async members(roomId: string): Promise<Member[]> {
    const all = await this.redis.call(() => this.redis.client.hvals(this.redis.keys.room(roomId, 'members')));
    return all.map((json) => JSON.parse(json) as Member).sort((a, b) => a.joined_at.localeCompare(b.joined_at));
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

  async addMember(roomId: string, member: Member): Promise<Member> {
    const { client, keys } = this.redis;
    return this.redis.call(async () => {
      const [, [, stored]] = (await client
        .multi()
        .hsetnx(keys.room(roomId, 'members'), member.user_id, JSON.stringify(member))
        .hget(keys.room(roomId, 'members'), member.user_id)
        .exec()) as [unknown, [Error | null, string]];
      // The user's room list is updated either way: it is true in both cases.
      await client.zadd(keys.userRooms(member.user_id), 'NX', Date.parse(member.joined_at), roomId);
      this.remember(`${roomId}\n${member.user_id}`, true);
      return JSON.parse(stored) as Member;
    });
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const { client, keys } = this.redis;
    return this.redis.call(async () => {
      const removed = await client.hdel(keys.room(roomId, 'members'), userId);
      await client.zrem(keys.userRooms(userId), roomId);
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
