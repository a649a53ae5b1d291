/**
 * Lua scripts of `RedisPresenceStore`; each runs atomically in Redis, which
 * is what lets exactly one instance learn (and broadcast) each change.
 * Typing entries are `connection|instance|broadcastAt|expiresAt` in a hash per room.
 *
 * A script that decides a change also publishes its event, in the same step
 * (`PUBLISH`, or `SPUBLISH` on a cluster, whose channel is in the room's
 * slot): changes decided on different instances then reach every instance
 * in the order Redis made them. Published apart, a stop could overtake the
 * start it ends, or an offline the online that follows it.
 * Scripts that publish take, after their own ARGV, the publish command and
 * the channel, then the event: whole, or for a typing stop
 * as the three parts of `typingStoppedTemplate` around the user and the
 * connection, which Lua's cjson encodes.
 */

/** Lua: the typing_stopped event of a user and a connection, from the template at ARGV[at..at+2]. */
const stoppedEvent = (at: number) =>
  `local function stopped(user, connection)
  return ARGV[${at}] .. cjson.encode(user) .. ARGV[${at + 1}] .. cjson.encode(connection) .. ARGV[${at + 2}]
end`;

/**
 * KEYS: the room's online:<user> set, the room's online set (one slot: the room's).
 * ARGV: instance, user, publish command, channel, the online event.
 * Returns 1 if the user came online (and publishes the event). The caller
 * adds the pair to the instance's held set before (a crash in between
 * leaves a held pair with nothing to clear, never presence nobody can reap).
 */
export const PRESENCE_JOIN = `
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 1 and redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call(ARGV[3], ARGV[4], ARGV[5])
  return 1
end
return 0`;

/**
 * KEYS as PRESENCE_JOIN, then the room's typing hash. ARGV as PRESENCE_JOIN
 * with the offline event, then the typing_stopped template (3). Returns
 * {1, typist's connection or false} if the user went offline: their typing
 * ends too, and both are published, the stop first; else {0, false}. The
 * caller removes the held pair after.
 */
export const PRESENCE_LEAVE = `
${stoppedEvent(6)}
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
  local typing = redis.call('HGET', KEYS[3], ARGV[2])
  if typing then
    redis.call('HDEL', KEYS[3], ARGV[2])
    typing = string.match(typing, '^(.-)|')
    redis.call(ARGV[3], ARGV[4], stopped(ARGV[2], typing))
  end
  redis.call(ARGV[3], ARGV[4], ARGV[5])
  return {1, typing}
end
return {0, false}`;

/**
 * KEYS: typing hash. ARGV: user, connection, instance, now, throttleMs, ttlMs,
 * the hash's expiry ms, publish command, channel, the typing event.
 * Returns 1 when the start is broadcast (and publishes it).
 */
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
if broadcast == 1 then redis.call(ARGV[8], ARGV[9], ARGV[10]) end
return broadcast`;

/**
 * KEYS: typing hash. ARGV: user, publish command, channel, typing_stopped template (3).
 * Returns the typist's connection id (and publishes the stop), or nil.
 */
export const TYPING_STOP = `
${stoppedEvent(4)}
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
local connection = string.match(current, '^(.-)|')
redis.call(ARGV[2], ARGV[3], stopped(ARGV[1], connection))
return connection`;

/**
 * KEYS: typing hash. ARGV: now, publish command, channel, typing_stopped template (3).
 * Removes expired entries and publishes their stops; returns [user, connection, …].
 */
export const TYPING_EXPIRE = `
${stoppedEvent(4)}
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local expired = {}
for i = 1, #all, 2 do
  local connection, _, _, expires = string.match(all[i + 1], '^(.-)|(.-)|(.-)|(.-)$')
  if tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], all[i])
    redis.call(ARGV[2], ARGV[3], stopped(all[i], connection))
    table.insert(expired, all[i])
    table.insert(expired, connection)
  end
end
return expired`;

/**
 * Claims instances whose heartbeat ran out, so one reaper clears each: their
 * deadline moves to the lease's end (a reaper that dies meanwhile leaves the
 * instance to be claimed again when the lease runs out).
 * KEYS: instances sorted set. ARGV: now, lease end, most to claim. Returns their ids.
 */
export const CLAIM_DEAD = `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(dead) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return dead`;

/**
 * Clears what a dead instance held for one user in one room (the room's
 * slot only; `RedisPresenceStore` walks the dead instance's held set and
 * runs this per pair). KEYS: the room's online:<user> set, online set,
 * typing hash. ARGV: dead instance, user, publish command, channel,
 * typing_stopped template (3), the offline event.
 * Returns [typing connection id or false, 1 if the user went offline]:
 * only the one caller whose step cleared a thing learns it (and publishes
 * it), so each event is published once however many instances reap at the same time.
 */
export const REAP_PAIR = `
${stoppedEvent(5)}
local ended = false
local typing = redis.call('HGET', KEYS[3], ARGV[2])
if typing then
  local connection, instance = string.match(typing, '^(.-)|(.-)|')
  if instance == ARGV[1] then
    redis.call('HDEL', KEYS[3], ARGV[2])
    redis.call(ARGV[3], ARGV[4], stopped(ARGV[2], connection))
    ended = connection
  end
end
local offline = 0
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 and redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
  redis.call(ARGV[3], ARGV[4], ARGV[8])
  offline = 1
end
return {ended, offline}`;
