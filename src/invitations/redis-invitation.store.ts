import { RedisService } from '../redis/redis.service.js';
import { CREATE, RELEASE, USE } from './invitation.scripts.js';
import { EXPIRED_KEPT_MS, type Invitation, type InvitationStore, type UseOutcome } from './invitation.store.js';

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
    const fields = await this.redis.call(() => this.redis.client.hgetall(this.redis.keys.invitation(code)));
    if (fields.expires_at === undefined) return undefined;
    return {
      code,
      room_id: fields.room_id,
      created_by: fields.created_by,
      created_at: Number(fields.created_at),
      expires_at: Number(fields.expires_at),
      max_uses: fields.max_uses === '' ? null : Number(fields.max_uses),
      current_uses: Number(fields.uses),
    };
  }

  async use(code: string, now: number): Promise<UseOutcome> {
    const [status] = (await this.redis.call(() => this.redis.run(USE, [this.redis.keys.invitation(code)], [now]))) as [string, number?];
    if (status !== 'used') return { status: status as 'unknown' | 'expired' | 'used_up' };
    const invitation = await this.get(code);
    if (!invitation) return { status: 'unknown' };
    return { status: 'used', invitation };
  }

  async release(code: string): Promise<void> {
    await this.redis.call(() => this.redis.run(RELEASE, [this.redis.keys.invitation(code)], []));
  }
}
