/**
 * Lua scripts of `RedisRoomStore`. Each touches one key or one room's keys,
 * so one Redis Cluster slot; what a room and its users' lists need together
 * is several of them in order (see `RedisRoomStore`).
 */

/**
 * RESERVE: a place for a room in a user's rooms, unless the user is full.
 * KEYS: the user's rooms sorted set. ARGV: room id, joined-at score, most
 * rooms per user. Returns 2 if the room was already there, 1 if added, 0 if full.
 * The score is at least the newest one's plus one: rooms joined within one
 * millisecond (or on instances whose clocks differ) still list in join order,
 * not by room id.
 */
export const RESERVE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
local score = tonumber(ARGV[2])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if newest then score = math.max(score, tonumber(newest) + 1) end
redis.call('ZADD', KEYS[1], score, ARGV[1])
return 1`;

/**
 * COUNT_CREATED: counts one more room created by an owner, unless at the
 * limit. KEYS: the owner's counter. ARGV: most rooms ('-1' for no limit).
 * Returns 1 if counted, 0 if at the limit.
 */
export const COUNT_CREATED = `
local max = tonumber(ARGV[1])
if max >= 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= max then return 0 end
redis.call('INCR', KEYS[1])
return 1`;

/** RELEASE_DIRECT: forgets a direct pair's room if it is still this one. KEYS: the pair's key. ARGV: room id. */
export const RELEASE_DIRECT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * WRITE_ROOM: writes a room unless it is already written (a direct pair's
 * room finished by two creates: the first write is the room). KEYS: the
 * room's info, its members hash. ARGV: info JSON, then user id and member
 * JSON for each member. Returns 1 if written, 0 if it was there.
 */
export const WRITE_ROOM = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1`;

/**
 * ADD_TO_ROOM: a member, unless the room is full. KEYS: room members hash,
 * room member versions hash. ARGV: user id, member JSON, most members per room.
 * Returns {'added' | 'existing', member JSON, version} | {'room_full'}: the
 * version of the pair's membership, which an add or a removal moves on.
 */
export const ADD_TO_ROOM = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {'existing', existing, tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'room_full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'added', ARGV[2], redis.call('HINCRBY', KEYS[2], ARGV[1], 1)}`;

/**
 * REMOVE_FROM_ROOM: KEYS and ARGV[1] as ADD_TO_ROOM. Returns {1 if removed
 * else 0, the membership's version after}.
 */
export const REMOVE_FROM_ROOM = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then return {1, redis.call('HINCRBY', KEYS[2], ARGV[1], 1)} end
return {0, tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')}`;

/**
 * MEMBERSHIP: KEYS and ARGV[1] as ADD_TO_ROOM. Returns {1 if a member else
 * 0, the membership's version}.
 */
export const MEMBERSHIP = `
return {redis.call('HEXISTS', KEYS[1], ARGV[1]), tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')}`;

/**
 * FOLLOW: makes a user's room list follow one membership, unless it already
 * followed a later version of it (an add and a removal of one pair racing
 * on two instances reach the list in any order; the later membership wins).
 * The version stays after an unlisting: an older add arriving late must still lose.
 * KEYS: the user's rooms sorted set, their room versions hash. ARGV: room
 * id, version, 1 to list the room (0 to unlist it), joined-at score.
 */
export const FOLLOW = `
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] == '1' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1]) end
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1`;
