import { Inject, Injectable } from '@nestjs/common';
import { USER_DIRECTORY_STORE, type ProfileUpdate, type UserDirectoryStore, type UserProfile } from './user-directory.store.js';

/** Profile claims remembered per process, so a token's claims are written once, not on every request. */
const MAX_REMEMBERED_CLAIMS = 10_000;

/**
 * The user directory: who a user id is (username, email, picture). Filled
 * from token claims and from the main backend; a field it does not have is
 * null (room summaries show a partner without a username by their id).
 */
@Injectable()
export class UsersService {
  private readonly written = new Map<string, string>();

  constructor(@Inject(USER_DIRECTORY_STORE) private readonly store: UserDirectoryStore) {}

  /** Stores profiles the main backend sends. */
  put(updates: ProfileUpdate[]): Promise<void> {
    for (const update of updates) this.written.delete(update.user_id);
    return this.store.put(updates);
  }

  /**
   * Remembers what a verified token says of its user; a write only when it
   * differs from what this process last wrote for them.
   */
  async remember(update: ProfileUpdate): Promise<void> {
    const fingerprint = JSON.stringify(update);
    if (this.written.get(update.user_id) === fingerprint) return;
    await this.store.put([update]);
    this.written.delete(update.user_id);
    this.written.set(update.user_id, fingerprint);
    if (this.written.size > MAX_REMEMBERED_CLAIMS) this.written.delete(this.written.keys().next().value as string);
  }

  /** Each user's profile as stored, in the order given; null for each field the directory does not have. */
  async profiles(userIds: string[]): Promise<UserProfile[]> {
    const stored = await this.store.get(userIds);
    return userIds.map((user_id, i) => {
      const profile = stored[i];
      return { user_id, username: profile?.username ?? null, email: profile?.email ?? null, profile_image: profile?.profile_image ?? null };
    });
  }

  /** The user id behind each email (undefined for none), in the order given. */
  findByEmail(emails: string[]): Promise<Array<string | undefined>> {
    return this.store.findByEmail(emails);
  }
}
