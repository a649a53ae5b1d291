import { randomUUID } from 'node:crypto';
import { EXPIRED_KEPT_MS, REPEAT_USE_MS, type Invitation, type InvitationStore } from '../../src/invitations/invitation.store.js';
import { StoreUnavailableError } from '../../src/redis/store-unavailable.error.js';

/** One deployment of an invitation store: every instance opened from it shares its data. */
export interface InvitationStoreDeployment {
  open(): Promise<InvitationStore>;
  cutOff?(): Promise<void>;
  close(): Promise<void>;
}

/** Now: a Redis key expires by the real clock. */
const NOW = Date.now();
const HOUR = 3600_000;

const invitation = (fields: Partial<Invitation> = {}): Invitation => ({
  code: randomUUID().replace(/-/g, '').slice(0, 8).toUpperCase(),
  room_id: randomUUID(),
  created_by: 'alice',
  created_at: NOW,
  expires_at: NOW + HOUR,
  max_uses: null,
  current_uses: 0,
  ...fields,
});

/** The `InvitationStore` contract (src/invitations/invitation.store.ts), for any implementation. */
export function describeInvitationStoreContract(
  name: string,
  deploy: () => Promise<InvitationStoreDeployment>,
  { shared = false }: { shared?: boolean } = {},
): void {
  describe(`${name} honours the InvitationStore contract`, () => {
    let deployment: InvitationStoreDeployment;
    let store: InvitationStore;
    beforeEach(async () => {
      deployment = await deploy();
      store = await deployment.open();
    });
    afterEach(async () => {
      await deployment.close();
    });

    it('gives back a created invitation, refuses its code a second time, and knows no other code', async () => {
      const created = invitation({ max_uses: 3 });
      expect(await store.create(created)).toBe(true);
      expect(await store.get(created.code)).toEqual(created);
      expect(await store.create(invitation({ code: created.code, room_id: randomUUID() }))).toBe(false);
      expect(await store.get(created.code)).toEqual(created);
      expect(await store.get('NOSUCHCD')).toBeUndefined();
      expect(await store.use('NOSUCHCD', 'u1', NOW)).toEqual({ status: 'unknown' });
    });

    it('counts uses up to max_uses, gives a use back on release, and refuses once used up', async () => {
      const created = invitation({ max_uses: 2 });
      await store.create(created);
      expect(await store.use(created.code, 'u1', NOW)).toEqual({ status: 'used', invitation: { ...created, current_uses: 1 }, first: true });
      expect(await store.use(created.code, 'u2', NOW)).toEqual({ status: 'used', invitation: { ...created, current_uses: 2 }, first: true });
      expect(await store.use(created.code, 'u3', NOW)).toEqual({ status: 'used_up' });
      await store.release(created.code, 'u1');
      expect((await store.get(created.code))?.current_uses).toBe(1);
      // Given back once only: u1's use is no longer counted.
      await store.release(created.code, 'u1');
      expect((await store.get(created.code))?.current_uses).toBe(1);
      expect((await store.use(created.code, 'u3', NOW)).status).toBe('used');
    });

    it(`takes a user's uses within ${REPEAT_USE_MS} ms of their counted one as that one, used up or not; a later one counts again`, async () => {
      const created = invitation({ max_uses: 2 });
      await store.create(created);
      expect((await store.use(created.code, 'u1', NOW)) as { first: boolean }).toMatchObject({ status: 'used', first: true });
      expect(await store.use(created.code, 'u1', NOW + 1)).toEqual({ status: 'used', invitation: { ...created, current_uses: 1 }, first: false });
      expect((await store.use(created.code, 'u2', NOW)).status).toBe('used');
      expect(await store.use(created.code, 'u1', NOW + REPEAT_USE_MS - 1)).toMatchObject({ status: 'used', first: false });
      expect(await store.use(created.code, 'u3', NOW)).toEqual({ status: 'used_up' });
      // Later, a use is a use: a user removed from the room does not come back through a code used up.
      expect(await store.use(created.code, 'u1', NOW + REPEAT_USE_MS)).toEqual({ status: 'used_up' });
      expect((await store.get(created.code))?.current_uses).toBe(2);
    });

    it('refuses a use at or after expires_at but still answers get, and any number of uses without max_uses', async () => {
      const created = invitation();
      await store.create(created);
      for (let i = 0; i < 5; i++) expect((await store.use(created.code, `u${i}`, NOW)).status).toBe('used');
      expect(await store.use(created.code, 'u9', created.expires_at)).toEqual({ status: 'expired' });
      expect((await store.get(created.code))?.current_uses).toBe(5);
    });

    it('counts concurrent uses exactly: never more than max_uses succeed', async () => {
      const created = invitation({ max_uses: 5 });
      await store.create(created);
      const other = await deployment.open();
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).use(created.code, `u${i}`, NOW)));
      expect(outcomes.filter((o) => o.status === 'used')).toHaveLength(5);
      expect(outcomes.filter((o) => o.status === 'used_up')).toHaveLength(15);
      expect((await other.get(created.code))?.current_uses).toBe(5);
    });

    it(`forgets an invitation once it has been expired for ${EXPIRED_KEPT_MS / HOUR} hours`, async () => {
      const old = invitation({ created_at: Date.now() - EXPIRED_KEPT_MS - 2 * HOUR, expires_at: Date.now() - EXPIRED_KEPT_MS - HOUR });
      await store.create(old);
      await store.create(invitation({ created_at: Date.now(), expires_at: Date.now() + HOUR }));
      expect(await store.get(old.code)).toBeUndefined();
    });

    if (!shared) return;

    it('while the shared store is unreachable, rejects with unavailable', async () => {
      if (!deployment.cutOff) throw new Error('a shared store’s deployment needs cutOff()');
      const created = invitation();
      await store.create(created);
      await deployment.cutOff();
      const unavailable = expect.any(StoreUnavailableError);
      await expect(store.get(created.code)).rejects.toEqual(unavailable);
      await expect(store.use(created.code, 'u1', NOW)).rejects.toEqual(unavailable);
      await expect(store.create(invitation())).rejects.toEqual(unavailable);
    });
  });
}
