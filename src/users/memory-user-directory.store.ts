import { normalizeEmail, type ProfileUpdate, type UserDirectoryStore, type UserProfile } from './user-directory.store.js';

/** The embedded directory: gone with the process. */
export class MemoryUserDirectoryStore implements UserDirectoryStore {
  private readonly profiles = new Map<string, UserProfile>();
  private readonly byEmail = new Map<string, string>();

  async put(updates: ProfileUpdate[]): Promise<void> {
    for (const update of updates) {
      const before = this.profiles.get(update.user_id);
      const after = merge(update, before);
      this.profiles.set(update.user_id, after);
      const oldEmail = before?.email ? normalizeEmail(before.email) : undefined;
      const newEmail = after.email ? normalizeEmail(after.email) : undefined;
      if (oldEmail !== undefined && oldEmail !== newEmail && this.byEmail.get(oldEmail) === update.user_id) this.byEmail.delete(oldEmail);
      if (newEmail !== undefined) this.byEmail.set(newEmail, update.user_id);
    }
  }

  async get(userIds: string[]): Promise<Array<UserProfile | undefined>> {
    return userIds.map((id) => {
      const profile = this.profiles.get(id);
      return profile && { ...profile };
    });
  }

  async findByEmail(emails: string[]): Promise<Array<string | undefined>> {
    return emails.map((email) => this.byEmail.get(normalizeEmail(email)));
  }
}

/** The stored profile with the update's fields over it. */
export function merge(update: ProfileUpdate, before: UserProfile | undefined): UserProfile {
  return {
    user_id: update.user_id,
    username: update.username !== undefined ? update.username : (before?.username ?? null),
    email: update.email !== undefined ? update.email : (before?.email ?? null),
    profile_image: update.profile_image !== undefined ? update.profile_image : (before?.profile_image ?? null),
  };
}
