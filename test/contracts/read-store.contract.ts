import { randomUUID } from 'node:crypto';
import type { ReadStore } from '../../src/messages/read.store.js';

/** One deployment of a read store: every instance opened from it shares its data. */
export interface ReadStoreDeployment {
  open(): Promise<ReadStore>;
  close(): Promise<void>;
}

const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
const AT = ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z'];

/** The `ReadStore` contract (src/messages/read.store.ts), for any implementation. */
export function describeReadStoreContract(name: string, deploy: () => Promise<ReadStoreDeployment>): void {
  describe(`${name} honours the ReadStore contract`, () => {
    let deployment: ReadStoreDeployment;
    let store: ReadStore;
    beforeEach(async () => {
      deployment = await deploy();
      store = await deployment.open();
    });
    afterEach(async () => {
      await deployment.close();
    });

    it('moves a position forward only, answering the position after', async () => {
      const [room, ann] = [id('room'), id('ann')];
      expect(await store.advance(room, ann, 3, AT[0])).toEqual({ seq: 3, at: AT[0] });
      expect(await store.advance(room, ann, 2, AT[1])).toEqual({ seq: 3, at: AT[0] });
      expect(await store.advance(room, ann, 3, AT[1])).toEqual({ seq: 3, at: AT[0] });
      expect(await store.advance(room, ann, 5, AT[2])).toEqual({ seq: 5, at: AT[2] });
    });

    it('answers a user’s positions over rooms, and a room’s over users, in the order asked', async () => {
      const [r1, r2, ann, ben] = [id('room'), id('room'), id('ann'), id('ben')];
      await store.advance(r1, ann, 1, AT[0]);
      await store.advance(r2, ann, 2, AT[1]);
      await store.advance(r1, ben, 4, AT[2]);
      expect(await store.ofUser(ann, [r2, id('room'), r1])).toEqual([{ seq: 2, at: AT[1] }, undefined, { seq: 1, at: AT[0] }]);
      expect(await store.inRoom(r1, [ben, id('cat'), ann])).toEqual([{ seq: 4, at: AT[2] }, undefined, { seq: 1, at: AT[0] }]);
      expect(await store.ofUser(ann, [])).toEqual([]);
    });

    it('makes every write visible to every instance', async () => {
      const other = await deployment.open();
      const [room, ann] = [id('room'), id('ann')];
      await store.advance(room, ann, 7, AT[0]);
      expect(await other.ofUser(ann, [room])).toEqual([{ seq: 7, at: AT[0] }]);
      expect(await other.advance(room, ann, 6, AT[1])).toEqual({ seq: 7, at: AT[0] });
    });
  });
}
