/**
 * Lua scripts of the shared limits.
 *
 * HIT: one request in a fixed window. KEYS: the counter. ARGV: the window
 * in ms. Returns {count in this window, ms until the window ends}.
 */
export const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

/**
 * UNHIT: gives back one HIT of the current window. KEYS: the counter. A
 * window that has ended is left alone (a DECR would start one without end).
 */
export const UNHIT = `
if redis.call('PTTL', KEYS[1]) > 0 and tonumber(redis.call('GET', KEYS[1])) > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

/**
 * ACQUIRE: a connection slot of a user, unless they hold `max` already.
 * KEYS: the user's connections sorted set. ARGV: slot id, max, lifetime in
 * ms. Slots of instances that stopped renewing them (crashed) have expired
 * scores and are dropped first. Returns 1 when acquired, else 0.
 */
export const ACQUIRE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * RENEW: pushes the expiry of the slots this instance holds, for a batch of
 * users in one call. KEYS: the users' connections sorted sets. ARGV: lifetime
 * in ms, then for each key in order the number of its slots followed by the
 * slot ids. A slot that expired meanwhile (Redis was away from this instance
 * longer than the lifetime, or lost its data) is added again: its connection
 * is still open. (A slot let go while a call is resent after NOSCRIPT may come
 * back too; no longer renewed, it expires within the lifetime.) A damaged key
 * (not a sorted set) fails alone: the other users' slots are still renewed.
 */
export const RENEW = `
local time = redis.call('TIME')
local at = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[1])
local i = 2
for k = 1, #KEYS do
  local count = tonumber(ARGV[i])
  for j = i + 1, i + count do redis.pcall('ZADD', KEYS[k], at, ARGV[j]) end
  redis.pcall('PEXPIRE', KEYS[k], ARGV[1])
  i = i + count + 1
end
return 0`;
