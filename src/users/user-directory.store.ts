/** What the chat shows of a user (PROTOCOL §5, "User directory"); null where nothing is known. */
export interface UserProfile {
  user_id: string;
  username: string | null;
  email: string | null;
  profile_image: string | null;
}

/** A profile update: a field left out keeps what is stored, `null` clears it. */
export type ProfileUpdate = { user_id: string } & Partial<Omit<UserProfile, 'user_id'>>;

export const USER_DIRECTORY_STORE = Symbol('USER_DIRECTORY_STORE');

/** Emails are matched without regard to case or surrounding spaces. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Profiles of users, shared by every instance, with an index by email
 * (one user per email: the latest to claim it). While a shared store is
 * unreachable, calls reject with `StoreUnavailableError`.
 */
export interface UserDirectoryStore {
  /** Applies each update in order. */
  put(updates: ProfileUpdate[]): Promise<void>;
  /** The stored profile of each user, in the order given (undefined for none), in one read. */
  get(userIds: string[]): Promise<Array<UserProfile | undefined>>;
  /** The user id behind each email, in the order given (undefined for none), in one read. */
  findByEmail(emails: string[]): Promise<Array<string | undefined>>;
}
