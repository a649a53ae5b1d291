/**
 * Lua scripts of `RedisRoomStore`.
 *
 * CREATE: a room with its members, unless a limit refuses it.
 * KEYS: room info, room members hash, the owner's rooms-created counter,
 * the direct pair key (unused unless ARGV[3] is '1'), then each member's
 * rooms sorted set. ARGV: room id, room JSON, '1' for a direct room, most
 * rooms the owner may have created ('-1' for no limit), most rooms per
 * user, then user id, member JSON and joined-at score per member.
 * Returns {'created'} | {'exists', room id} | {'owner_quota'} | {'user_full', user id}.
 */
export const CREATE = `
if ARGV[3] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {'exists', existing} end
end
local maxCreated = tonumber(ARGV[4])
if maxCreated >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= maxCreated then return {'owner_quota'} end
local maxRooms = tonumber(ARGV[5])
local count = #KEYS - 4
for i = 1, count do
  if redis.call('ZCARD', KEYS[4 + i]) >= maxRooms then return {'user_full', ARGV[3 + 3 * i]} end
end
redis.call('SET', KEYS[1], ARGV[2])
for i = 1, count do
  redis.call('HSET', KEYS[2], ARGV[3 + 3 * i], ARGV[4 + 3 * i])
  redis.call('ZADD', KEYS[4 + i], ARGV[5 + 3 * i], ARGV[1])
end
redis.call('INCR', KEYS[3])
if ARGV[3] == '1' then redis.call('SET', KEYS[4], ARGV[1]) end
return {'created'}`;

/**
 * ADD_MEMBER: a member, unless the room or the user is full.
 * KEYS: room members hash, the user's rooms sorted set. ARGV: user id,
 * member JSON, joined-at score, room id, most members per room, most rooms
 * per user. Returns {'added', member JSON} | {'existing', member JSON} |
 * {'room_full'} | {'user_full'}.
 */
export const ADD_MEMBER = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[4])
  return {'existing', existing}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return {'room_full'} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return {'user_full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return {'added', ARGV[2]}`;
