import { RedisService } from '../redis/redis.service.js';
import { LIST_FOR_USER } from './room.scripts.js';
import type { Member, Room, RoomStore } from './room.store.js';

/**
 * Membership answers remembered for outages, at most this many (oldest
 * forgotten first). A bound on memory rather than a setting: past it, a
 * join during an outage is refused as it would be without the memory.
 */
const MAX_REMEMBERED = 100_000;

/**
 * Rooms in Redis: `…:info` holds the room as JSON, `…:members` a hash of
 * user id → member JSON, and `chat:user:<id>:rooms` a sorted set of the
 * user's rooms by when they joined.
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
      for (const member of members) {
        tx.hset(keys.room(room.room_id, 'members'), member.user_id, JSON.stringify(member));
        tx.zadd(keys.userRooms(member.user_id), Date.parse(member.joined_at), room.room_id);
      }
      await tx.exec();
    });
  }

  async get(roomId: string): Promise<Room | undefined> {
    const { client, keys } = this.redis;
    const [info, memberIds] = await this.redis.call(() =>
      Promise.all([client.get(keys.room(roomId, 'info')), client.hkeys(keys.room(roomId, 'members'))]),
    );
    return info === null ? undefined : { ...(JSON.parse(info) as Room), member_ids: memberIds };
  }

  /** One round trip: a script reads the user's room ids and every room's info and members. */
  async listForUser(userId: string): Promise<Room[]> {
    const { keys } = this.redis;
    const rooms = (await this.redis.call(() =>
      this.redis.run(LIST_FOR_USER, [keys.userRooms(userId)], [keys.roomPrefix()]),
    )) as Array<[string, string | null, string[]]>;
    return rooms.flatMap(([, info, memberIds]) => (info ? [{ ...(JSON.parse(info) as Room), member_ids: memberIds }] : []));
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
      // The user's room list is updated either way: it is true in both cases.
      const [, , [, stored]] = (await client
        .multi()
        .hsetnx(keys.room(roomId, 'members'), member.user_id, JSON.stringify(member))
        .zadd(keys.userRooms(member.user_id), 'NX', Date.parse(member.joined_at), roomId)
        .hget(keys.room(roomId, 'members'), member.user_id)
        .exec()) as [unknown, unknown, [Error | null, string]];
      this.remember(`${roomId}\n${member.user_id}`, true);
      return JSON.parse(stored) as Member;
    });
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
