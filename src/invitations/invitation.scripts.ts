/**
 * Lua scripts of `RedisInvitationStore`. An invitation is one hash
 * `<prefix>chat:invitation:{<code>}` (its own hash tag) with the fields
 * `room_id`, `created_by`, `created_at`, `expires_at`, `max_uses` (empty for
 * none) and `uses`; the key expires `EXPIRED_KEPT_MS` after the invitation.
 */

/**
 * USE: one use by a user, atomically. KEYS: the invitation. ARGV: now (ms),
 * the user's field. With `max_uses`, each user whose use is counted has a
 * field `user:<id>` (at most `max_uses` of them), and counts once.
 * Returns {'used', 1} (counted now) | {'used', 0} (counted before) | {'unknown'} | {'expired'} | {'used_up'}.
 */
export const USE = `
local fields = redis.call('HMGET', KEYS[1], 'expires_at', 'max_uses', 'uses')
if not fields[1] then return {'unknown'} end
if tonumber(fields[1]) <= tonumber(ARGV[1]) then return {'expired'} end
if fields[2] ~= '' then
  if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {'used', 0} end
  if tonumber(fields[3]) >= tonumber(fields[2]) then return {'used_up'} end
  redis.call('HSET', KEYS[1], ARGV[2], 1)
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
