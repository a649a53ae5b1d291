import { EXPIRED_KEPT_MS, REPEAT_USE_MS, type Invitation, type InvitationStore, type UseOutcome } from './invitation.store.js';

/** How often at most the store walks its invitations for those to forget. */
const SWEEP_EVERY_MS = 60_000;

/** Invitations in this process; those expired for `EXPIRED_KEPT_MS` are swept as new ones come. */
export class MemoryInvitationStore implements InvitationStore {
  private readonly invitations = new Map<string, Invitation>();
  private sweptAt = -Infinity;
  /** By code (with `max_uses`): each user whose use is counted, and when it was. */
  private readonly users = new Map<string, Map<string, number>>();

  async create(invitation: Invitation): Promise<boolean> {
    this.sweep(invitation.created_at);
    if (this.invitations.has(invitation.code)) return false;
    this.invitations.set(invitation.code, { ...invitation });
    return true;
  }

  async get(code: string): Promise<Invitation | undefined> {
    const invitation = this.kept(code, Date.now());
    return invitation && { ...invitation };
  }

  async use(code: string, userId: string, now: number): Promise<UseOutcome> {
    const invitation = this.kept(code, now);
    if (!invitation) return { status: 'unknown' };
    if (invitation.expires_at <= now) return { status: 'expired' };
    if (invitation.max_uses !== null) {
      const users = this.users.get(code) ?? new Map<string, number>();
      const counted = users.get(userId);
      if (counted !== undefined && now - counted < REPEAT_USE_MS) return { status: 'used', invitation: { ...invitation }, first: false };
      if (invitation.current_uses >= invitation.max_uses) return { status: 'used_up' };
      this.users.set(code, users.set(userId, now));
    }
    invitation.current_uses += 1;
    return { status: 'used', invitation: { ...invitation }, first: true };
  }

  async release(code: string, userId: string): Promise<void> {
    const invitation = this.invitations.get(code);
    if (!invitation || invitation.current_uses === 0) return;
    if (invitation.max_uses !== null && !this.users.get(code)?.delete(userId)) return;
    invitation.current_uses -= 1;
  }

  /** An invitation not yet to be forgotten (the sweep comes once a minute). */
  private kept(code: string, now: number): Invitation | undefined {
    const invitation = this.invitations.get(code);
    return invitation && !forgotten(invitation, now) ? invitation : undefined;
  }

  /** A walk over every invitation, so once a minute at most rather than at each new one. */
  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_EVERY_MS) return;
    this.sweptAt = now;
    for (const [code, invitation] of this.invitations) {
      if (forgotten(invitation, now)) {
        this.invitations.delete(code);
        this.users.delete(code);
      }
    }
  }
}

/** Whether an invitation is past the time it is kept after it expired. */
function forgotten(invitation: Invitation, now: number): boolean {
  return invitation.expires_at + EXPIRED_KEPT_MS <= now;
}
