import { MemoryPresenceStore } from './memory-presence.store.js';

const THROTTLE = 1_000;
const TTL = 5_000;

describe(MemoryPresenceStore.name, () => {
  let store: MemoryPresenceStore;

  beforeEach(() => {
    store = new MemoryPresenceStore();
  });

  describe('online', () => {
    it('reports the first connection of a user as coming online', async () => {
      expect(await store.addConnection('r1', 'u1', 'c1')).toBe(true);
      expect(await store.online('r1')).toEqual(['u1']);
    });

    it('does not report a second tab of the same user', async () => {
      await store.addConnection('r1', 'u1', 'c1');

      expect(await store.addConnection('r1', 'u1', 'c2')).toBe(false);
      expect(await store.online('r1')).toEqual(['u1']);
    });

    it('reports each user and each room on its own', async () => {
      await store.addConnection('r1', 'u1', 'c1');

      expect(await store.addConnection('r1', 'u2', 'c2')).toBe(true);
      expect(await store.addConnection('r2', 'u1', 'c1')).toBe(true);
      expect((await store.online('r1')).sort()).toEqual(['u1', 'u2']);
      expect(await store.online('r2')).toEqual(['u1']);
    });

    it('reports only the last connection leaving as going offline', async () => {
      await store.addConnection('r1', 'u1', 'c1');
      await store.addConnection('r1', 'u1', 'c2');

      expect(await store.removeConnection('r1', 'u1', 'c1')).toBe(false);
      expect(await store.online('r1')).toEqual(['u1']);
      expect(await store.removeConnection('r1', 'u1', 'c2')).toBe(true);
      expect(await store.online('r1')).toEqual([]);
    });

    it('does not report a connection it never saw, nor the same leave twice', async () => {
      await store.addConnection('r1', 'u1', 'c1');

      expect(await store.removeConnection('r1', 'u1', 'c9')).toBe(false);
      expect(await store.removeConnection('r2', 'u1', 'c1')).toBe(false);
      expect(await store.removeConnection('r1', 'u1', 'c1')).toBe(true);
      expect(await store.removeConnection('r1', 'u1', 'c1')).toBe(false);
    });

    it('reports the user online again after they went offline', async () => {
      await store.addConnection('r1', 'u1', 'c1');
      await store.removeConnection('r1', 'u1', 'c1');

      expect(await store.addConnection('r1', 'u1', 'c2')).toBe(true);
    });

    it('lists nobody in an unknown room', async () => {
      expect(await store.online('nowhere')).toEqual([]);
    });
  });

  describe('typing', () => {
    const u1 = { userId: 'u1', connectionId: 'c1' };

    it('broadcasts the first start', async () => {
      expect(await store.startTyping('r1', u1, 0, THROTTLE, TTL)).toBe(true);
      expect(await store.typing('r1', 0)).toEqual(['u1']);
    });

    it('broadcasts at most one start per throttle window, and again in each later window', async () => {
      const broadcasts: number[] = [];
      for (let now = 0; now < 3_500; now += 250) {
        if (await store.startTyping('r1', u1, now, THROTTLE, TTL)) broadcasts.push(now);
      }

      expect(broadcasts).toEqual([0, 1_000, 2_000, 3_000]);
    });

    it('does not broadcast a start just before the window ends', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);

      expect(await store.startTyping('r1', u1, THROTTLE - 1, THROTTLE, TTL)).toBe(false);
      expect(await store.startTyping('r1', u1, THROTTLE, THROTTLE, TTL)).toBe(true);
    });

    it('throttles each user and each room on its own', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);

      expect(await store.startTyping('r1', { userId: 'u2', connectionId: 'c2' }, 10, THROTTLE, TTL)).toBe(true);
      expect(await store.startTyping('r2', u1, 10, THROTTLE, TTL)).toBe(true);
    });

    it('resets the window on stop', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);

      expect(await store.stopTyping('r1', 'u1')).toEqual(u1);
      expect(await store.startTyping('r1', u1, 100, THROTTLE, TTL)).toBe(true);
    });

    it('returns the connection of the latest broadcast start on stop', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);
      await store.startTyping('r1', { userId: 'u1', connectionId: 'c2' }, 100, THROTTLE, TTL);
      expect(await store.stopTyping('r1', 'u1')).toEqual({ userId: 'u1', connectionId: 'c1' });

      await store.startTyping('r1', u1, 200, THROTTLE, TTL);
      await store.startTyping('r1', { userId: 'u1', connectionId: 'c2' }, 200 + THROTTLE, THROTTLE, TTL);
      expect(await store.stopTyping('r1', 'u1')).toEqual({ userId: 'u1', connectionId: 'c2' });
    });

    it('stops a typing only once', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);

      expect(await store.stopTyping('r1', 'u1')).toBeDefined();
      expect(await store.stopTyping('r1', 'u1')).toBeUndefined();
      expect(await store.typing('r1', 0)).toEqual([]);
    });

    it('returns undefined when stopping a user who is not typing', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);

      expect(await store.stopTyping('r1', 'u2')).toBeUndefined();
      expect(await store.stopTyping('r2', 'u1')).toBeUndefined();
      expect(await store.typing('r1', 0)).toEqual(['u1']);
    });

    it('expires a typing the TTL after the latest start, returning each typist once', async () => {
      const u2 = { userId: 'u2', connectionId: 'c2' };
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);
      await store.startTyping('r1', u2, 2_000, THROTTLE, TTL);

      expect(await store.expireTyping('r1', TTL - 1)).toEqual([]);
      expect(await store.expireTyping('r1', TTL)).toEqual([u1]);
      expect(await store.expireTyping('r1', TTL)).toEqual([]);
      expect(await store.expireTyping('r1', 2_000 + TTL)).toEqual([u2]);
      expect(await store.expireTyping('r1', 60_000)).toEqual([]);
    });

    it('extends the expiry with every start, throttled or not', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);
      expect(await store.startTyping('r1', u1, 500, THROTTLE, TTL)).toBe(false);

      expect(await store.expireTyping('r1', TTL)).toEqual([]);
      expect(await store.typing('r1', TTL)).toEqual(['u1']);
      expect(await store.expireTyping('r1', 500 + TTL)).toEqual([u1]);
    });

    it('does not expire other rooms', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);

      expect(await store.expireTyping('r2', 60_000)).toEqual([]);
      expect(await store.expireTyping('r1', 60_000)).toEqual([u1]);
    });

    it('leaves nothing to stop once expired', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);
      await store.expireTyping('r1', TTL);

      expect(await store.stopTyping('r1', 'u1')).toBeUndefined();
    });

    it('hides expired typists from typing() before anyone expires them', async () => {
      await store.startTyping('r1', u1, 0, THROTTLE, TTL);
      await store.startTyping('r1', { userId: 'u2', connectionId: 'c2' }, 3_000, THROTTLE, TTL);

      expect((await store.typing('r1', TTL - 1)).sort()).toEqual(['u1', 'u2']);
      expect(await store.typing('r1', TTL)).toEqual(['u2']);
      expect(await store.typing('r1', 3_000 + TTL)).toEqual([]);
    });

    it('broadcasts a new start after the previous typing expired', async () => {
      await store.startTyping('r1', u1, 0, 10_000, TTL);

      expect(await store.startTyping('r1', u1, TTL, 10_000, TTL)).toBe(true);
    });

    it('lists nobody typing in an unknown room', async () => {
      expect(await store.typing('nowhere', 0)).toEqual([]);
    });
  });
});
