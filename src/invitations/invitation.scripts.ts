/**
 * Lua scripts of `RedisInvitationStore`. An invitation is one hash
 * `<prefix>chat:invitation:{<code>}` (its own hash tag) with the fields
 * `room_id`, `created_by`, `created_at`, `expires_at`, `max_uses` (empty for
 * none) and `uses`; the key expires `EXPIRED_KEPT_MS` after the invitation.
 */

/**
 * USE: one use by a user, atomically. KEYS: the invitation. ARGV: now (ms),
 * the user's field, the repeat window (ms). With `max_uses`, each user whose
 * use is counted has a field `user:<id>` holding when (at most `max_uses` of
 * them); a use within the window of it is a repeat and counts nothing.
 * Returns {'used', 1} (counted now) | {'used', 0} (a repeat) | {'unknown'} | {'expired'} | {'used_up'}.
 */
export const USE = `
local fields = redis.call('HMGET', KEYS[1], 'expires_at', 'max_uses', 'uses')
if not fields[1] then return {'unknown'} end
local now = tonumber(ARGV[1])
if tonumber(fields[1]) <= now then return {'expired'} end
if fields[2] ~= '' then
  local counted = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '')
  if counted and now - counted < tonumber(ARGV[3]) then return {'used', 0} end
  if tonumber(fields[3]) >= tonumber(fields[2]) then return {'used_up'} end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'uses', 1)
return {'used', 1}`;

/** RELEASE: gives back the use counted for a user. KEYS: the invitation. ARGV: the user's field. */
export const RELEASE = `
local fields = redis.call('HMGET', KEYS[1], 'max_uses', 'uses')
if not fields[2] or tonumber(fields[2]) == 0 then return 0 end
if fields[1] ~= '' and redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'uses', -1)
return 0`;

/**
 * CREATE: a new invitation unless its code is taken. KEYS: the invitation.
 * ARGV: room id, created by, created at, expires at, max uses ('' for none),
 * when the key goes (ms). Returns 1, or 0 when the code is taken.
 */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'room_id', ARGV[1], 'created_by', ARGV[2], 'created_at', ARGV[3], 'expires_at', ARGV[4], 'max_uses', ARGV[5], 'uses', 0)
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
return 1`;
