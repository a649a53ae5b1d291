import { RedisService } from '../redis/redis.service.js';
import { merge } from './memory-user-directory.store.js';
import { normalizeEmail, type ProfileUpdate, type UserDirectoryStore, type UserProfile } from './user-directory.store.js';

/**
 * Profiles in Redis: `chat:user:{<user>}:profile` holds the profile as JSON
 * (in the user's slot), `chat:email:{<email>}` the user id of an email (in
 * the email's slot). An update reads the old profiles in one round trip and
 * writes in a second, one command per key sent together (not a pipeline:
 * on a cluster the keys sit on different nodes). Two updates of one user
 * racing on two instances: the later write wins, as with any profile store.
 */
export class RedisUserDirectoryStore implements UserDirectoryStore {
  constructor(private readonly redis: RedisService) {}

  async put(updates: ProfileUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const { client, keys } = this.redis;
    await this.redis.call(async () => {
      const ids = [...new Set(updates.map((u) => u.user_id))];
      const stored = await this.readAll(ids.map((id) => keys.userProfile(id)));
      const current = new Map(ids.map((id, i) => [id, parse(stored[i])]));
      const writes: Array<Promise<unknown>> = [];
      for (const update of updates) {
        const before = current.get(update.user_id);
        const after = merge(update, before);
        current.set(update.user_id, after);
        writes.push(client.set(keys.userProfile(update.user_id), JSON.stringify(after)));
        const oldEmail = before?.email ? normalizeEmail(before.email) : undefined;
        const newEmail = after.email ? normalizeEmail(after.email) : undefined;
        // Only the user's own entry is removed: another user may have claimed the email since.
        if (oldEmail !== undefined && oldEmail !== newEmail) writes.push(this.redis.run(DELETE_IF, [keys.emailIndex(oldEmail)], [update.user_id]));
        if (newEmail !== undefined) writes.push(client.set(keys.emailIndex(newEmail), update.user_id));
      }
      await Promise.all(writes);
    });
  }

  async get(userIds: string[]): Promise<Array<UserProfile | undefined>> {
    if (userIds.length === 0) return [];
    const stored = await this.redis.call(() => this.readAll(userIds.map((id) => this.redis.keys.userProfile(id))));
    return stored.map(parse);
  }

  async findByEmail(emails: string[]): Promise<Array<string | undefined>> {
    if (emails.length === 0) return [];
    const stored = await this.redis.call(() => this.readAll(emails.map((email) => this.redis.keys.emailIndex(normalizeEmail(email)))));
    return stored.map((value) => value ?? undefined);
  }

  /** One GET per key, sent together (one round trip): the keys sit in different slots, so no MGET. */
  private readAll(keys: string[]): Promise<Array<string | null>> {
    return Promise.all(keys.map((key) => this.redis.client.get(key)));
  }
}

/** KEYS: a key. ARGV: a value. Deletes the key only while it holds that value. */
const DELETE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

function parse(json: string | null | undefined): UserProfile | undefined {
  if (!json) return undefined;
  try {
    const value = JSON.parse(json) as Partial<UserProfile>;
    if (typeof value.user_id !== 'string') return undefined;
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return { user_id: value.user_id, username: text(value.username), email: text(value.email), profile_image: text(value.profile_image) };
  } catch {
    return undefined;
  }
}
