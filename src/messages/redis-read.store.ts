import { encodeRoomEvent, type RoomEvent } from '../core/room-event.js';
import { RedisService } from '../redis/redis.service.js';
import type { ReadPosition, ReadStore } from './read.store.js';

/**
 * KEYS: the room's read hash. ARGV: user id, seq, at, then optionally the
 * publish command, the channel and the event to publish when it moves (in
 * the room's slot on a cluster). Moves the user's position forward only.
 * Returns {1 if it moved else 0, the position after as `<seq>|<at>`}.
 */
const ADVANCE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local seq = tonumber(string.match(current, '^(%d+)|'))
  if seq and seq >= tonumber(ARGV[2]) then return {0, current} end
end
local next = ARGV[2] .. '|' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], next)
if ARGV[6] then redis.call(ARGV[4], ARGV[5], ARGV[6]) end
return {1, next}`;

/**
 * Read positions in Redis: the hash `chat:{<room>}:read` (user id →
 * `<seq>|<at>`) in the room's slot. A move's `read` event is published by
 * the script that makes it. A user's positions over many rooms are
 * one HGET per room, sent together: one round trip, each command in its
 * room's slot (not a pipeline: on a cluster the rooms sit on different nodes).
 */
export class RedisReadStore implements ReadStore {
  readonly announces = true;

  constructor(private readonly redis: RedisService) {}

  async advance(roomId: string, userId: string, seq: number, at: string, announce?: RoomEvent): Promise<{ position: ReadPosition; moved: boolean }> {
    const publish = announce ? [this.redis.publishCommand, this.redis.eventChannel(roomId), encodeRoomEvent(announce)] : [];
    const [moved, stored] = (await this.redis.call(() =>
      this.redis.run(ADVANCE, [this.redis.keys.room(roomId, 'read')], [userId, seq, at, ...publish]),
    )) as [number, string];
    return { position: parse(stored) ?? { seq, at }, moved: moved === 1 };
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
