import { RedisService } from '../redis/redis.service.js';
import { CREATE, RELEASE, USE } from './invitation.scripts.js';
import { EXPIRED_KEPT_MS, REPEAT_USE_MS, type Invitation, type InvitationStore, type UseOutcome } from './invitation.store.js';

/** Invitations in Redis, one hash each (see `invitation.scripts.ts`); a use is one script. */
export class RedisInvitationStore implements InvitationStore {
  constructor(private readonly redis: RedisService) {}

  async create(invitation: Invitation): Promise<boolean> {
    const created = await this.redis.call(() =>
      this.redis.run(
        CREATE,
        [this.redis.keys.invitation(invitation.code)],
        [
          invitation.room_id,
          invitation.created_by,
          invitation.created_at,
          invitation.expires_at,
          invitation.max_uses ?? '',
          invitation.expires_at + EXPIRED_KEPT_MS,
        ],
      ),
    );
    return created === 1;
  }

  async get(code: string): Promise<Invitation | undefined> {
    // The named fields only: the hash also holds a field per user counted (USE).
    const [roomId, createdBy, createdAt, expiresAt, maxUses, uses] = await this.redis.call(() =>
      this.redis.client.hmget(this.redis.keys.invitation(code), 'room_id', 'created_by', 'created_at', 'expires_at', 'max_uses', 'uses'),
    );
    if (roomId === null || createdBy === null || expiresAt === null) return undefined;
    return {
      code,
      room_id: roomId,
      created_by: createdBy,
      created_at: Number(createdAt),
      expires_at: Number(expiresAt),
      max_uses: maxUses === '' || maxUses === null ? null : Number(maxUses),
      current_uses: Number(uses),
    };
  }

  async use(code: string, userId: string, now: number): Promise<UseOutcome> {
    const key = this.redis.keys.invitation(code);
    const [status, counted] = (await this.redis.call(() => this.redis.run(USE, [key], [now, userField(userId), REPEAT_USE_MS]))) as [string, number?];
    if (status !== 'used') return { status: status as 'unknown' | 'expired' | 'used_up' };
    const invitation = await this.get(code);
    if (!invitation) return { status: 'unknown' };
    return { status: 'used', invitation, first: counted === 1 };
  }

  async release(code: string, userId: string): Promise<void> {
    await this.redis.call(() => this.redis.run(RELEASE, [this.redis.keys.invitation(code)], [userField(userId)]));
  }
}

/** The hash field that says a user's use of the invitation is counted (no other field has a colon). */
function userField(userId: string): string {
  return `user:${userId}`;
}
