/**
 * Lua scripts of `RedisMessageStore`. A room's history, all under the
 * room's hash tag (see `RedisKeys`): a hash `…:meta` (seq, epoch, last_at),
 * a stream `…:log` whose entry ids are `<seq>-0` and whose fields are
 * `id` (the message id) and `m` (the message JSON), a hash `…:ids`
 * (message id → seq), a hash `…:versions` (message id → its current
 * `updated_at`; what an edit compares once there is an edit) and a hash `…:edits` (message id → current JSON of an edited
 * or deleted message).
 *
 * The scripts never decode message JSON: what they compare (`message_id`,
 * `updated_at`) is kept in fields of its own, so nothing a user once wrote
 * can make a later script fail. They never encode it either: the JSON and
 * the events come from the codec in `core/room-event.ts`, and the scripts
 * only concatenate.
 */

/**
 * Gives the room an epoch if `meta` has none (a new room, or its `meta` was lost) and returns the room's epoch.
 * A new epoch is a new history whose seqs start at 1, so whatever is left of an older one goes with it: its
 * log, ids, versions and edits (evicted or deleted keys need not go together; a stream refuses ids below its
 * last one) and the read positions (the read store's hash, same hash tag), which would hide the new messages.
 */
const EPOCH = `
local function epoch_of(meta, candidate, leftovers)
  -- Read first: a room with an epoch writes nothing here, so a read still runs on a master that refuses
  -- writes for now (min-replicas-to-write: NOREPLICAS), as even an HSETNX that sets nothing is refused.
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch end
  redis.call('HSET', meta, 'epoch', candidate)
  redis.call('DEL', unpack(leftovers))
  return candidate
end`;

/** Makes sure the room has an epoch. KEYS: meta, log, ids, versions, edits, read hash. ARGV: candidate epoch. Returns [seq, epoch, last_at]. */
export const HEAD = `${EPOCH}
epoch_of(KEYS[1], ARGV[1], {KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]})
return redis.call('HMGET', KEYS[1], 'seq', 'epoch', 'last_at')`;

/** Messages removed by one append at most, when the retention was lowered: bounds one script's run. */
const TRIM_PER_APPEND = 100;

/**
 * The one writer of order: assigns the next seq, appends, trims to the
 * retention, remembers the client_msg_id and publishes, all in one step.
 * A new message also ends its sender's typing in the room (the presence
 * store's typing hash, same hash tag) and moves the sender's read position
 * forward to it (the read store's hash, `<seq>|<at>`, same hash tag), which
 * saves two round trips per message.
 * KEYS: meta, log, ids, versions, edits, dedup key, typing hash, read hash, the room's info (RedisRoomStore).
 * ARGV: message template (2 parts), event template (3 parts), candidate
 * epoch, max retained, dedup window ms ('0': no dedup), channel, message
 * id, created_at, publish command (`PUBLISH`, or `SPUBLISH` on a cluster,
 * whose channel is in the room's slot; empty: the caller publishes the
 * event itself, once replicas hold the write), sender id, typing_stopped
 * template (3 parts, see `typingStoppedTemplate`): when it publishes the
 * message, the stop of the sender's typing goes out right after it (and
 * the typist is not returned), so no start from another instance overtakes it.
 * Returns [1, json, typist's connection or false, event] for a new message,
 * [-1] when the room has no info (the store lost the room),
 * or [0, json, false, event] for the original of a duplicate, as it is now
 * (edited or deleted since, if it was); `event` (the
 * encoded `message` event) only when the caller publishes.
 */
export const APPEND = `${EPOCH}
-- Only into a room that exists: a store that lost the room (flushed, evicted, restarted empty; a read may have
-- given its history a new epoch since) refuses the message.
if redis.call('EXISTS', KEYS[9]) == 0 then return {-1, false, false, false} end
local publish = ARGV[12] ~= ''
local window = tonumber(ARGV[8])
if window > 0 then
  local original = redis.call('GET', KEYS[6])
  if original then
    -- The message as it is now: REPLACE rewrites this key too, so it holds a change even once trimmed from the
    -- log; the edit is looked up as well for changes made before REPLACE did (a rolling upgrade).
    local id = string.match(original, '"message_id":"([^"]+)"')
    local edited = id and redis.call('HGET', KEYS[5], id)
    if edited then original = edited end
    local epoch = redis.call('HGET', KEYS[1], 'epoch')
    local event = false
    if not publish and epoch then event = ARGV[3] .. epoch .. ARGV[4] .. original .. ARGV[5] end
    return {0, original, false, event}
  end
end
local epoch = epoch_of(KEYS[1], ARGV[6], {KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8]})
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local json = ARGV[1] .. seq .. ARGV[2]
local trimmed = 0
while trimmed < ${TRIM_PER_APPEND} and redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[7]) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local id = oldest[2][2]
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('HDEL', KEYS[5], id)
  redis.call('XDEL', KEYS[2], oldest[1])
  trimmed = trimmed + 1
end
redis.call('XADD', KEYS[2], seq .. '-0', 'id', ARGV[10], 'm', json)
redis.call('HSET', KEYS[3], ARGV[10], seq)
-- REPLACE no longer needs it for a message without an edit; kept for instances of the version before (a rolling upgrade).
redis.call('HSET', KEYS[4], ARGV[10], ARGV[11])
redis.call('HSET', KEYS[1], 'last_at', ARGV[11])
if window > 0 then redis.call('SET', KEYS[6], json, 'PX', window) end
local event = ARGV[3] .. epoch .. ARGV[4] .. json .. ARGV[5]
if publish then
  redis.call(ARGV[12], ARGV[9], event)
  event = false
end
local read = redis.call('HGET', KEYS[8], ARGV[13])
if not read or (tonumber(string.match(read, '^(%d+)|')) or 0) < seq then
  redis.call('HSET', KEYS[8], ARGV[13], seq .. '|' .. ARGV[11])
end
local typing = redis.call('HGET', KEYS[7], ARGV[13])
if typing then
  redis.call('HDEL', KEYS[7], ARGV[13])
  typing = string.match(typing, '^(.-)|') or false
  if publish and typing then
    redis.call(ARGV[12], ARGV[9], ARGV[14] .. cjson.encode(ARGV[13]) .. ARGV[15] .. cjson.encode(typing) .. ARGV[16])
    typing = false
  end
end
return {1, json, typing, event}`;

/**
 * Compare-and-set of a message's current state. KEYS: ids, versions, edits, the message's dedup key, changes.
 * ARGV: message id, expected updated_at, new updated_at, new JSON, channel, event JSON, publish command (as APPEND;
 * empty: the caller publishes), '1' if the message has a client_msg_id, new updated_at in ms, changes kept.
 * The change is recorded in the room's changes (a sorted set of message ids by time, the latest kept) for
 * `CHANGED_SINCE`. Returns 1 if replaced (and published),
 * 0 if the message changed or is gone. A retry of the message's send finds the new state in its dedup key.
 * A message without an edit is as appended, which is what the caller read; one with an edit has changed
 * unless its version is the one the caller read. A version lost with its key (evicted, deleted) counts as
 * read, so a damaged history can still be edited instead of failing every compare.
 */
export const REPLACE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  local version = redis.call('HGET', KEYS[2], ARGV[1])
  if version and version ~= ARGV[2] then return 0 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
-- pcall: a damaged changes key (not a sorted set) keeps no record, and fails neither the edit nor its publish.
redis.pcall('ZADD', KEYS[5], ARGV[9], ARGV[1])
redis.pcall('ZREMRANGEBYRANK', KEYS[5], 0, -1 - tonumber(ARGV[10]))
if ARGV[8] == '1' then
  -- Only while the key is this message's: a client_msg_id may be used again once its window is over.
  local original = redis.call('GET', KEYS[4])
  if original and string.find(original, '"message_id":"' .. ARGV[1] .. '"', 1, true) then
    redis.call('SET', KEYS[4], ARGV[4], 'KEEPTTL')
  end
end
if ARGV[7] ~= '' then redis.call(ARGV[7], ARGV[5], ARGV[6]) end
return 1`;

/**
 * The messages changed since a time, as they are now, oldest change first. KEYS: changes, edits.
 * ARGV: time in ms, count. A change whose message is no longer retained (trimmed, or a history reset) is
 * skipped; a damaged changes key (not a sorted set) reads as none.
 */
export const CHANGED_SINCE = `
local out = {}
local ids = redis.pcall('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
if ids.err then return out end
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[2], id)
  if json then out[#out + 1] = json end
end
return out`;

/** Stream entries as their current JSON: the edit where there is one (one HLEN when nothing was edited). */
const CURRENT = `
local function current(edits, entries)
  local out = {}
  local edited = redis.call('HLEN', edits) > 0
  for i, entry in ipairs(entries) do
    local json = entry[2][4]
    if edited then json = redis.call('HGET', edits, entry[2][2]) or json end
    out[i] = json
  end
  return out
end`;

/**
 * The head and the messages after a seq, in one step. KEYS: meta, log, edits, ids, versions, read hash (see EPOCH).
 * ARGV: candidate epoch, first stream id, count.
 * Returns [[seq, epoch, last_at], oldest retained stream id or false, [json, …]].
 */
export const READ_AFTER = `${CURRENT}${EPOCH}
epoch_of(KEYS[1], ARGV[1], {KEYS[2], KEYS[4], KEYS[5], KEYS[3], KEYS[6]})
local head = redis.call('HMGET', KEYS[1], 'seq', 'epoch', 'last_at')
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
local entries = redis.call('XRANGE', KEYS[2], ARGV[2], '+', 'COUNT', tonumber(ARGV[3]))
return {head, oldest and oldest[1] or false, current(KEYS[3], entries)}`;

/** One retained message as it is now. KEYS: ids, log, edits. ARGV: message id. Returns its JSON or false. */
export const GET = `
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then return false end
local edit = redis.call('HGET', KEYS[3], ARGV[1])
if edit then return edit end
local entry = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')[1]
if not entry then return false end
return entry[2][4]`;

/**
 * The newest messages up to a stream id. KEYS: log, edits. ARGV: last stream id (or '+'), count.
 * Returns [retained count, [json, …] newest first].
 */
export const PAGE = `${CURRENT}
local entries = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', tonumber(ARGV[2]))
return {redis.call('XLEN', KEYS[1]), current(KEYS[2], entries)}`;


/**
 * A room's seq and its latest retained message as it is now. KEYS: meta,
 * log, edits. Returns [seq, json or false]. Reads only.
 */
export const LATEST = `
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
local entry = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
if not entry then return {seq, false} end
return {seq, redis.call('HGET', KEYS[3], entry[2][2]) or entry[2][4]}`;
