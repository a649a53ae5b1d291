/**
 * Lua scripts of `RedisMessageStore`. A room's history is a hash `…:meta`
 * (seq, epoch, last_at), a stream `…:log` whose entry ids are `<seq>-0`,
 * a hash `…:ids` (message id → seq) and a hash `…:edits` (message id →
 * current JSON of an edited or deleted message).
 */

/** Makes sure the room has an epoch. KEYS: meta. ARGV: candidate epoch. Returns [seq, epoch, last_at]. */
export const HEAD = `
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
return redis.call('HMGET', KEYS[1], 'seq', 'epoch', 'last_at')`;

/**
 * The one writer of order: assigns the next seq, appends, trims to the
 * retention, remembers the client_msg_id and publishes, all in one step.
 * KEYS: meta, log, ids, edits, dedup key.
 * ARGV: message JSON without seq and without its opening brace, candidate
 * epoch, max retained, dedup window ms ('0': no dedup), channel, message id, created_at.
 * Returns [1, json] for a new message or [0, json] for the original of a duplicate.
 */
export const APPEND = `
local dedup = tonumber(ARGV[4]) > 0
if dedup then
  local original = redis.call('GET', KEYS[5])
  if original then return {0, original} end
end
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local json = '{"seq":' .. seq .. ',' .. ARGV[1]
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local id = cjson.decode(oldest[2][2]).message_id
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('XDEL', KEYS[2], oldest[1])
end
redis.call('XADD', KEYS[2], seq .. '-0', 'm', json)
redis.call('HSET', KEYS[3], ARGV[6], seq)
redis.call('HSET', KEYS[1], 'last_at', ARGV[7])
if dedup then redis.call('SET', KEYS[5], json, 'PX', ARGV[4]) end
redis.call('PUBLISH', ARGV[5], '{"type":"message","epoch":' .. cjson.encode(epoch) .. ',"data":' .. json .. '}')
return {1, json}`;

/**
 * Compare-and-set of a message's current state. KEYS: ids, log, edits.
 * ARGV: message id, expected updated_at, new JSON, channel, event JSON.
 * Returns 1 if replaced and published, 0 if the message changed or is gone.
 */
export const REPLACE = `
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then return 0 end
local current = redis.call('HGET', KEYS[3], ARGV[1])
if not current then
  local entry = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')[1]
  if not entry then return 0 end
  current = entry[2][2]
end
if cjson.decode(current).updated_at ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;
