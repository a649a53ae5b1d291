/**
 * Why a rule of the service refused a request:
 * - `not_found`: no such room or message;
 * - `forbidden`: the caller may not change it (not the owner, not the sender);
 * - `not_a_member`: the caller is not a member of the room;
 * - `content_too_long`: a message is longer than `MAX_MESSAGE_LENGTH`;
 * - `invalid_input`: a request that is well-formed but not allowed (a direct
 *   room without exactly one other member, an edit of a deleted message);
 * - `limit_reached`: a quota is used up (rooms created, members of a room,
 *   rooms of a user);
 * - `rate_limited`: too many of one action per window; `retryAfterMs` says when to try again.
 */
export type DomainErrorCode =
  | 'not_found'
  | 'forbidden'
  | 'not_a_member'
  | 'content_too_long'
  | 'invalid_input'
  | 'limit_reached'
  | 'rate_limited';

/**
 * The error the domain services throw. They know nothing of sockets or
 * HTTP: the socket edge maps the code to an `error` frame, the REST filter
 * to a status.
 */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** The room the refusal is about, when the answer should name it. */
    readonly roomId?: string,
    /** For `rate_limited`: how long until the action is allowed again. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** The store no longer has the room (its keys lost: flushed, evicted, a restart without data); a `not_a_member` on the wire. */
export class RoomLostError extends DomainError {
  constructor(roomId: string) {
    super('not_a_member', 'The room no longer exists', roomId);
    this.name = 'RoomLostError';
  }
}
