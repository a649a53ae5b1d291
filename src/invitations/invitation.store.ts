export const INVITATION_STORE = Symbol('INVITATION_STORE');

/** An invitation code to a room (PROTOCOL §5). Times are epoch milliseconds. */
export interface Invitation {
  code: string;
  room_id: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  /** null: any number of uses until it expires. */
  max_uses: number | null;
  current_uses: number;
}

export type UseOutcome =
  /** `first`: this use was counted now; false when it is a repeat of the user's use counted moments ago. */
  | { status: 'used'; invitation: Invitation; first: boolean }
  | { status: 'unknown' }
  | { status: 'expired' }
  | { status: 'used_up' };

/** A user's uses of one code this close together are one (a double click, a retry); later ones count again. */
export const REPEAT_USE_MS = 10_000;

/** How long an expired invitation is still answered (as no longer valid) before it is forgotten. */
export const EXPIRED_KEPT_MS = 7 * 24 * 3600_000;

/**
 * Invitation codes, shared by every instance. Writes are visible to every
 * instance as soon as they resolve. While a shared store is unreachable,
 * calls reject with `StoreUnavailableError`.
 */
export interface InvitationStore {
  /** Stores a new invitation; false when its code is taken (the caller draws another). */
  create(invitation: Invitation): Promise<boolean>;
  get(code: string): Promise<Invitation | undefined>;
  /**
   * Counts one use by `userId`, atomically: refused when unknown, expired at
   * `now`, or used `max_uses` times. With `max_uses`, a user's uses within
   * `REPEAT_USE_MS` of their counted one are that one (so a double click takes
   * one use, not two, and is not refused meanwhile); a later use counts again.
   */
  use(code: string, userId: string, now: number): Promise<UseOutcome>;
  /** Gives back the use `use` counted first for `userId`, whose join did not happen. */
  release(code: string, userId: string): Promise<void>;
}
