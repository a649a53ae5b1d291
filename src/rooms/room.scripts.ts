/**
 * Lua scripts of `RedisRoomStore`.
 *
 * The rooms of a user, most recently joined first, in one round trip.
 * KEYS: the user's rooms sorted set. ARGV: the key prefix of a room
 * (`<prefix>chat:{`; a room's keys are `<that><room id>}:<part>`). Returns [room id, info JSON or false, member ids], …
 * Reads only.
 */
export const LIST_FOR_USER = `
local rooms = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local base = ARGV[1] .. id .. '}'
  table.insert(rooms, {id, redis.call('GET', base .. ':info'), redis.call('HKEYS', base .. ':members')})
end
return rooms`;
