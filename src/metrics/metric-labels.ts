// The closed sets metric labels take their values from: a label never
// carries a room id, user id, token or any other value a client chooses.

/**
 * Results of a WebSocket upgrade: accepted, or the `error` of the refused
 * handshake (PROTOCOL §1): 401 `unauthorized`, 403 `token_expired` and
 * `origin_not_allowed`, 503 `unavailable` (draining or full) and
 * `user_limit` (503 `unavailable` on the wire: one user over
 * MAX_CONNECTIONS_PER_USER), 404 `not_found` (another path), 400
 * `bad_request`, and 426 `upgrade_required` (a plain GET on the socket path).
 */
export const UPGRADE_RESULTS = [
  'accepted',
  'unauthorized',
  'token_expired',
  'origin_not_allowed',
  'unavailable',
  'user_limit',
  'not_found',
  'bad_request',
  'upgrade_required',
] as const;
export type UpgradeResult = (typeof UPGRADE_RESULTS)[number];

/** Why the server closed a connection (the close reason it sent, or what ended it). */
export const CLOSE_REASONS = [
  'slow_consumer',
  'slow_join',
  'rate_limit_abuse',
  'token_expired',
  'server_restarting',
  'too_big',
  'invalid_data',
  'protocol_error',
  'heartbeat_timeout',
  'internal_error',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/**
 * Outcome of a `join_room` with `since`: `recovered`, or why not: the
 * history was reset (`epoch_changed`), no longer reaches back or is longer
 * than a join may replay (`too_far_behind`), the client claims a later
 * `seq` than the room has (`ahead`), the shared store was away (`unavailable`).
 */
export const RECOVERY_OUTCOMES = ['recovered', 'epoch_changed', 'too_far_behind', 'ahead', 'unavailable'] as const;
export type RecoveryOutcome = (typeof RECOVERY_OUTCOMES)[number];

export const MESSAGE_RESULTS = ['stored', 'duplicate'] as const;

export const REDIS_CONNECTIONS = ['commands', 'subscriber'] as const;
export type RedisConnectionName = (typeof REDIS_CONNECTIONS)[number];
