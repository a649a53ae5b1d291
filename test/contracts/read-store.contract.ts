import { randomUUID } from 'node:crypto';
import type { RoomEvent } from '../../src/core/room-event.js';
import type { ReadStore } from '../../src/messages/read.store.js';
import { waitFor } from '../../scripts/processes.mjs';

/** One deployment of a read store: every instance opened from it shares its data. */
export interface ReadStoreDeployment {
  open(): Promise<ReadStore>;
  /** For a store that `announces`: listens to the room's channel; the events it has carried since. */
  heard?(roomId: string): Promise<() => RoomEvent[]>;
  close(): Promise<void>;
}

const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
const AT = ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z'];

/**
 * The `ReadStore` contract (src/messages/read.store.ts), for any implementation.
 * `announces`: the store publishes its moves itself, heard on the room's channel.
 */
export function describeReadStoreContract(
  name: string,
  deploy: () => Promise<ReadStoreDeployment>,
  { announces = false }: { announces?: boolean } = {},
): void {
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

    it('moves a position forward only, answering the position after and whether this call moved it', async () => {
      const [room, ann] = [id('room'), id('ann')];
      expect(await store.advance(room, ann, 3, AT[0])).toEqual({ position: { seq: 3, at: AT[0] }, moved: true });
      expect(await store.advance(room, ann, 2, AT[1])).toEqual({ position: { seq: 3, at: AT[0] }, moved: false });
      expect(await store.advance(room, ann, 3, AT[1])).toEqual({ position: { seq: 3, at: AT[0] }, moved: false });
      expect(await store.advance(room, ann, 5, AT[2])).toEqual({ position: { seq: 5, at: AT[2] }, moved: true });
    });

    it('tells exactly one of several racing moves to one seq, at one instant, that it moved', async () => {
      const [other, room, ann] = [await deployment.open(), id('room'), id('ann')];
      const moves = await Promise.all([store, other, store, other].map((s) => s.advance(room, ann, 4, AT[0])));
      expect(moves.filter((m) => m.moved)).toHaveLength(1);
    });

    it('makes every write visible to every instance', async () => {
      const other = await deployment.open();
      const [room, ann] = [id('room'), id('ann')];
      await store.advance(room, ann, 7, AT[0]);
      expect(await other.ofUser(ann, [room])).toEqual([{ seq: 7, at: AT[0] }]);
      expect(await other.advance(room, ann, 6, AT[1])).toEqual({ position: { seq: 7, at: AT[0] }, moved: false });
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

    if (!announces) return;

    it('announces each move it makes, in the order made: racing instances never put one back', async () => {
      expect(store.announces).toBe(true);
      if (!deployment.heard) throw new Error('the deployment of a store that announces needs heard()');
      const [other, room, ann] = [await deployment.open(), id('room'), id('ann')];
      const heard = await deployment.heard(room);
      let moved = 0;
      const read = (seq: number): RoomEvent => ({ type: 'read', data: { user_id: ann, seq } });
      for (let i = 1; i <= 30; i++) {
        // Two tabs on two instances read at once, the later seq 0–2 ms after.
        const later = new Promise((resolve) => setTimeout(resolve, i % 3)).then(() => other.advance(room, ann, 2 * i, AT[1], read(2 * i)));
        const moves = await Promise.all([store.advance(room, ann, 2 * i - 1, AT[0], read(2 * i - 1)), later]);
        moved += moves.filter((m) => m.moved).length;
      }
      await waitFor(() => heard().length >= moved, 5000, `the ${String(moved)} moves on the channel`);
      const seqs = heard().map((e) => (e.type === 'read' ? e.data.seq : -1));
      expect(seqs).toHaveLength(moved);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.at(-1)).toBe(60);
    });

  });
}
