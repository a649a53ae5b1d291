/**
 * Lua scripts of `RedisRoomStore`. Each touches one key or one room's keys,
 * so one Redis Cluster slot; what a room and its users' lists need together
 * is several of them in order (see `RedisRoomStore`).
 */

/** Lua: how many rooms a user holds or is being added to (KEYS[1] their rooms, KEYS[2] adds in flight), stale adds dropped first. */
const TAKEN = `
local function taken(now, staleMs)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - staleMs)
  local count = redis.call('ZCARD', KEYS[1])
  for _, room in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if not redis.call('ZSCORE', KEYS[1], room) then count = count + 1 end
  end
  return count
end`;

/**
 * Lua: lists a room in KEYS[1] at a score at least the newest one's plus
 * one: rooms joined within one millisecond (or on instances whose clocks
 * differ) still list in join order, not by room id.
 */
const PLACE = `
local function place(room, score)
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
  if newest then score = math.max(score, tonumber(newest) + 1) end
  redis.call('ZADD', KEYS[1], score, room)
end`;

/**
 * RESERVE: a place for a new room in a user's rooms, unless the user is
 * full (rooms held and adds in flight count). KEYS: the user's rooms, their
 * adds in flight. ARGV: room id, joined-at score, most rooms per user, now,
 * how long an add stays in flight at most. Returns 2 if the room was
 * already there, 1 if added, 0 if full.
 */
export const RESERVE = `
${TAKEN}
${PLACE}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
if taken(tonumber(ARGV[4]), tonumber(ARGV[5])) >= tonumber(ARGV[3]) then return 0 end
place(ARGV[1], tonumber(ARGV[2]))
return 1`;

/**
 * RESERVE_ADD: marks an add of the user to an existing room as in flight,
 * unless the user is full; `FOLLOW` lists it once the room has the member.
 * The mark, not a list entry, holds the place: a removal racing the add
 * may unlist the room meanwhile, and the place must stay counted.
 * KEYS and ARGV as RESERVE but the score. Returns 0 if full, else 1.
 */
export const RESERVE_ADD = `
${TAKEN}
local room, max, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[1], room) and not redis.call('ZSCORE', KEYS[2], room) and taken(now, tonumber(ARGV[4])) >= max then return 0 end
redis.call('ZADD', KEYS[2], now, room)
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
 * room membership version. ARGV: user id, member JSON, most members per room.
 * Returns {'added' | 'existing', member JSON, version} | {'room_full'}. The
 * room's membership version moves on with every add and removal, so of two
 * versions of one pair's membership the later is the larger (one counter a
 * room, not one per user ever added).
 */
export const ADD_TO_ROOM = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {'existing', existing, tonumber(redis.call('GET', KEYS[2]) or '0')} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'room_full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'added', ARGV[2], redis.call('INCR', KEYS[2])}`;

/**
 * REMOVE_FROM_ROOM: KEYS and ARGV[1] as ADD_TO_ROOM. Returns {1 if removed
 * else 0, the membership version after}.
 */
export const REMOVE_FROM_ROOM = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then return {1, redis.call('INCR', KEYS[2])} end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}`;

/**
 * MEMBERSHIP: KEYS and ARGV[1] as ADD_TO_ROOM. Returns {1 if a member else
 * 0, the membership version}.
 */
export const MEMBERSHIP = `
return {redis.call('HEXISTS', KEYS[1], ARGV[1]), tonumber(redis.call('GET', KEYS[2]) or '0')}`;

/**
 * FOLLOW: makes a user's room list follow one membership, unless it already
 * followed a later version of it (an add and a removal of one pair racing
 * on two instances reach the list in any order; the later membership wins).
 * The version stays after an unlisting, so an older add arriving late still
 * loses; a user left with no rooms and no add in flight has their versions
 * kept only as long as an add may take.
 * KEYS: the user's rooms, their adds in flight, their room versions hash.
 * ARGV: room id, version, 1 to list the room (0 to unlist it), joined-at
 * score, 1 when the add in flight ends here, how long an add stays in flight at most.
 */
export const FOLLOW = `
${PLACE}
if ARGV[5] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
if tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
if ARGV[3] == '1' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then place(ARGV[1], tonumber(ARGV[4])) end
  redis.call('PERSIST', KEYS[3])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  if redis.call('ZCARD', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then redis.call('PEXPIRE', KEYS[3], ARGV[6]) end
end
return 1`;
