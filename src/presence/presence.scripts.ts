/**
 * Lua scripts of `RedisPresenceStore`; each runs atomically in Redis, which
 * is what lets exactly one instance learn (and broadcast) each change.
 * Typing entries are `connection|instance|broadcastAt|expiresAt` in a hash per room.
 */

/**
 * KEYS: the room's online:<user> set, the room's online set, the instance's held set.
 * ARGV: instance, user, the held pair (`heldPair`). Returns 1 if the user came online.
 */
export const PRESENCE_JOIN = `
redis.call('SADD', KEYS[3], ARGV[3])
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 1 and redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** Same KEYS and ARGV as PRESENCE_JOIN. Returns 1 if the user went offline. */
export const PRESENCE_LEAVE = `
redis.call('SREM', KEYS[3], ARGV[3])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** KEYS: typing hash. ARGV: user, connection, instance, now, throttleMs, ttlMs, the hash's expiry ms. Returns 1 to broadcast. */
export const TYPING_START = `
local now = tonumber(ARGV[4])
local connection, instance, broadcastAt, broadcast = ARGV[2], ARGV[3], now, 1
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local c, i, at, expires = string.match(current, '^(.-)|(.-)|(.-)|(.-)$')
  if tonumber(expires) > now and now - tonumber(at) < tonumber(ARGV[5]) then
    -- throttled: only the expiry moves; the stop goes where the broadcast start went
    connection, instance, broadcastAt, broadcast = c, i, tonumber(at), 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], connection .. '|' .. instance .. '|' .. broadcastAt .. '|' .. (now + tonumber(ARGV[6])))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[7]))
return broadcast`;

/** KEYS: typing hash. ARGV: user. Returns the typist's connection id, or nil. */
export const TYPING_STOP = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
return string.match(current, '^(.-)|')`;

/** KEYS: typing hash. ARGV: now. Removes expired entries; returns [user, connection, …]. */
export const TYPING_EXPIRE = `
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local expired = {}
for i = 1, #all, 2 do
  local connection, _, _, expires = string.match(all[i + 1], '^(.-)|(.-)|(.-)|(.-)$')
  if tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(expired, all[i])
    table.insert(expired, connection)
  end
end
return expired`;

/**
 * KEYS: instances sorted set. ARGV: now, the room key prefix
 * (`RedisKeys.roomPrefix`), the held key prefix (`RedisKeys.heldPrefix`),
 * most instances to clear.
 * Clears what instances whose heartbeat ran out still held: their users go
 * offline where no other instance holds them, and their typing stops.
 * Returns [instances cleared, [[held pair, 'typing_stopped' | 'offline',
 * connection id], …]]: the caller publishes those events (the codec is the
 * only encoder of events); only the one caller that cleared them gets them.
 * Held pairs are `<room key part>:<user key part>:<user id>` (room and
 * instance ids are the server's UUIDs, which key encoding leaves as they are).
 * This script spans rooms: on a Redis Cluster it must be split per room.
 */
export const REAP_DEAD_INSTANCES = `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local rooms, helds = ARGV[2], ARGV[3]
local events = {}
for _, id in ipairs(dead) do
  local held = helds .. id .. '}:held'
  for _, pair in ipairs(redis.call('SMEMBERS', held)) do
    local room, userPart, user = string.match(pair, '^([^:]*):([^:]*):(.*)$')
    if room then
      local base = rooms .. room .. '}'
      local online = base .. ':online:' .. userPart
      redis.call('SREM', online, id)
      local typing = redis.call('HGET', base .. ':typing', user)
      if typing then
        local connection, instance = string.match(typing, '^(.-)|(.-)|')
        if instance == id then
          redis.call('HDEL', base .. ':typing', user)
          table.insert(events, {pair, 'typing_stopped', connection})
        end
      end
      if redis.call('SCARD', online) == 0 then
        redis.call('SREM', base .. ':online', user)
        table.insert(events, {pair, 'offline', id})
      end
    end
  end
  redis.call('DEL', held)
  redis.call('ZREM', KEYS[1], id)
end
return {#dead, events}`;
