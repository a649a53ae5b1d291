import { RedisService } from '../redis/redis.service.js';
import type { ReadPosition, ReadStore } from './read.store.js';

/**
 * KEYS: the room's read hash. ARGV: user id, seq, at. Moves the user's
 * position forward only. Returns the position after, `<seq>|<at>`.
 */
const ADVANCE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local seq = tonumber(string.match(current, '^(%d+)|'))
  if seq and seq >= tonumber(ARGV[2]) then return current end
end
local next = ARGV[2] .. '|' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], next)
return next`;

/**
 * Read positions in Redis: the hash `chat:{<room>}:read` (user id →
 * `<seq>|<at>`) in the room's slot. A user's positions over many rooms are
 * one HGET per room, sent together: one round trip, each command in its
 * room's slot (not a pipeline: on a cluster the rooms sit on different nodes).
 */
export class RedisReadStore implements ReadStore {
  constructor(private readonly redis: RedisService) {}

  async advance(roomId: string, userId: string, seq: number, at: string): Promise<ReadPosition> {
    const stored = await this.redis.call(() => this.redis.run(ADVANCE, [this.redis.keys.room(roomId, 'read')], [userId, seq, at]));
    return parse(stored as string) ?? { seq, at };
  }

  async ofUser(userId: string, roomIds: string[]): Promise<Array<ReadPosition | undefined>> {
    if (roomIds.length === 0) return [];
    const { client, keys } = this.redis;
    const values = await this.redis.call(() => Promise.all(roomIds.map((roomId) => client.hget(keys.room(roomId, 'read'), userId))));
    return values.map(parse);
  }

  async inRoom(roomId: string, userIds: string[]): Promise<Array<ReadPosition | undefined>> {
    if (userIds.length === 0) return [];
    const values = await this.redis.call(() => this.redis.client.hmget(this.redis.keys.room(roomId, 'read'), ...userIds));
    return values.map(parse);
  }
}

function parse(value: string | null | undefined): ReadPosition | undefined {
  const match = value ? /^(\d+)\|(.*)$/.exec(value) : null;
  return match ? { seq: Number(match[1]), at: match[2] } : undefined;
}
