import { randomUUID } from 'node:crypto';
import { StoreUnavailableError } from '../../src/redis/store-unavailable.error.js';
import type { UserDirectoryStore } from '../../src/users/user-directory.store.js';

/** One deployment of a user directory: every instance opened from it shares its data. */
export interface UserDirectoryDeployment {
  open(): Promise<UserDirectoryStore>;
  cutOff?(): Promise<void>;
  close(): Promise<void>;
}

const user = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

/** The `UserDirectoryStore` contract (src/users/user-directory.store.ts), for any implementation. */
export function describeUserDirectoryContract(
  name: string,
  deploy: () => Promise<UserDirectoryDeployment>,
  { shared = false }: { shared?: boolean } = {},
): void {
  describe(`${name} honours the UserDirectoryStore contract`, () => {
    let deployment: UserDirectoryDeployment;
    let store: UserDirectoryStore;
    beforeEach(async () => {
      deployment = await deploy();
      store = await deployment.open();
    });
    afterEach(async () => {
      await deployment.close();
    });

    it('gives back stored profiles in the order asked, undefined for unknown users', async () => {
      const [ann, ben] = [user('ann'), user('ben')];
      await store.put([{ user_id: ann, username: 'Ann', email: 'ann@example.com', profile_image: 'a.png' }]);
      expect(await store.get([user('nobody'), ann])).toEqual([
        undefined,
        { user_id: ann, username: 'Ann', email: 'ann@example.com', profile_image: 'a.png' },
      ]);
      expect(await store.get([ben])).toEqual([undefined]);
      expect(await store.get([])).toEqual([]);
    });

    it('keeps a field an update leaves out and clears one set to null', async () => {
      const ann = user('ann');
      await store.put([{ user_id: ann, username: 'Ann', email: 'ann@example.com' }]);
      await store.put([{ user_id: ann, profile_image: 'p.png' }, { user_id: ann, username: null }]);
      expect(await store.get([ann])).toEqual([{ user_id: ann, username: null, email: 'ann@example.com', profile_image: 'p.png' }]);
    });

    it('finds users by email whatever the case and surrounding spaces; a changed email no longer finds the old one', async () => {
      const [ann, ben] = [user('ann'), user('ben')];
      const [annMail, benMail] = [`${ann}@Example.com`, `${ben}@example.com`];
      await store.put([{ user_id: ann, email: annMail }, { user_id: ben, email: benMail }]);
      expect(await store.findByEmail([` ${ann}@example.COM`, 'nobody@example.com', benMail])).toEqual([ann, undefined, ben]);
      await store.put([{ user_id: ann, email: `${ann}@new.example.com` }]);
      expect(await store.findByEmail([annMail, `${ann}@new.example.com`])).toEqual([undefined, ann]);
    });

    it('gives an email to the latest user to claim it, and the earlier one’s change does not take it back', async () => {
      const [ann, ben] = [user('ann'), user('ben')];
      const shared = `${ann}-shared@example.com`;
      await store.put([{ user_id: ann, email: shared }]);
      await store.put([{ user_id: ben, email: shared }]);
      await store.put([{ user_id: ann, email: null }]);
      expect(await store.findByEmail([shared])).toEqual([ben]);
    });

    it('makes every write visible to every instance', async () => {
      const other = await deployment.open();
      const ann = user('ann');
      await store.put([{ user_id: ann, username: 'Ann', email: `${ann}@example.com` }]);
      expect((await other.get([ann]))[0]?.username).toBe('Ann');
      expect(await other.findByEmail([`${ann}@example.com`])).toEqual([ann]);
    });

    if (!shared) return;

    it('rejects with unavailable while the shared store is unreachable', async () => {
      if (!deployment.cutOff) throw new Error('a shared store’s deployment needs cutOff()');
      await deployment.cutOff();
      const unavailable = expect.any(StoreUnavailableError);
      await expect(store.get([user('ann')])).rejects.toEqual(unavailable);
      await expect(store.findByEmail(['a@example.com'])).rejects.toEqual(unavailable);
      await expect(store.put([{ user_id: user('ann'), username: 'x' }])).rejects.toEqual(unavailable);
    });
  });
}
