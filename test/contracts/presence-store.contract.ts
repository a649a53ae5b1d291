import { randomUUID } from 'node:crypto';
import type { RoomEvent } from '../../src/core/room-event.js';
import type { PresenceStore } from '../../src/presence/presence.store.js';
import { waitFor } from '../../scripts/processes.mjs';

/**
 * One deployment of a presence store: instances opened from it share who is
 * online and typing (an in-memory store has one instance, so it hands out that one).
 */
export interface PresenceStoreDeployment {
  open(): Promise<PresenceStore>;
  /** Makes the shared part unreachable from the instances opened so far (stores with a shared part only). */
  cutOff?(): Promise<void>;
  /** For a store that `announces`: listens to the room's channel; the events it has carried since. */
  heard?(roomId: string): Promise<() => RoomEvent[]>;
  close(): Promise<void>;
}

const THROTTLE_MS = 3_000;
const TTL_MS = 10_000;

const newRoom = () => `room-${randomUUID()}`;
const sorted = (ids: string[]) => [...ids].sort();

/**
 * The `PresenceStore` contract (src/presence/presence.store.ts), for any
 * implementation. Time is the `now` the caller passes, so expiry is tested
 * without waiting. `shared`: the store has a part outside the process, so
 * it also keeps the contract for when that part is unreachable. `announces`:
 * the store publishes its changes itself, heard on the room's channel.
 */
export function describePresenceStoreContract(
  name: string,
  deploy: () => Promise<PresenceStoreDeployment>,
  { shared = false, announces = false }: { shared?: boolean; announces?: boolean } = {},
): void {
  describe(`${name} honours the PresenceStore contract`, () => {
    let deployment: PresenceStoreDeployment;
    let store: PresenceStore;
    let now: number;
    beforeEach(async () => {
      deployment = await deploy();
      store = await deployment.open();
      now = Date.now();
    });
    afterEach(async () => {
      await deployment.close();
    });

    describe('online', () => {
      it('says a user came online with their first connection in a room, and went offline with their last', async () => {
        const roomId = newRoom();
        expect(await store.online(roomId)).toEqual([]);
        expect(await store.addConnection(roomId, 'alice', 'c1')).toBe(true);
        expect(await store.addConnection(roomId, 'alice', 'c2')).toBe(false);
        expect(await store.addConnection(roomId, 'bob', 'c3')).toBe(true);
        expect(sorted(await store.online(roomId))).toEqual(['alice', 'bob']);
        expect(await store.removeConnection(roomId, 'alice', 'c1')).toBe(false);
        expect(sorted(await store.online(roomId))).toEqual(['alice', 'bob']);
        expect(await store.removeConnection(roomId, 'alice', 'c2')).toBe(true);
        expect(await store.online(roomId)).toEqual(['bob']);
      });

      it('keeps each room on its own', async () => {
        const [one, two] = [newRoom(), newRoom()];
        expect(await store.addConnection(one, 'alice', 'c1')).toBe(true);
        expect(await store.addConnection(two, 'alice', 'c1')).toBe(true);
        expect(await store.removeConnection(one, 'alice', 'c1')).toBe(true);
        expect(await store.online(one)).toEqual([]);
        expect(await store.online(two)).toEqual(['alice']);
      });

      it('changes nothing for a connection added twice or removed without being added', async () => {
        const roomId = newRoom();
        expect(await store.addConnection(roomId, 'alice', 'c1')).toBe(true);
        expect(await store.addConnection(roomId, 'alice', 'c1')).toBe(false);
        expect(await store.removeConnection(roomId, 'alice', 'never-added')).toBe(false);
        expect(await store.removeConnection(roomId, 'bob', 'c1')).toBe(false);
        expect(await store.online(roomId)).toEqual(['alice']);
        expect(await store.removeConnection(roomId, 'alice', 'c1')).toBe(true);
        expect(await store.removeConnection(roomId, 'alice', 'c1')).toBe(false);
        expect(await store.online(roomId)).toEqual([]);
      });

      it('tells exactly one of two instances racing on the same user, both ways', async () => {
        const other = await deployment.open();
        const roomId = newRoom();
        const came = await Promise.all([store.addConnection(roomId, 'alice', 'on-one'), other.addConnection(roomId, 'alice', 'on-two')]);
        expect(sorted(came.map(String))).toEqual(['false', 'true']);
        for (const instance of [store, other]) expect(await instance.online(roomId)).toEqual(['alice']);
        const went = await Promise.all([store.removeConnection(roomId, 'alice', 'on-one'), other.removeConnection(roomId, 'alice', 'on-two')]);
        expect(sorted(went.map(String))).toEqual(['false', 'true']);
        for (const instance of [store, other]) expect(await instance.online(roomId)).toEqual([]);
      });

      it('keeps a user online until their last connection on any instance goes', async () => {
        const other = await deployment.open();
        const roomId = newRoom();
        expect(await store.addConnection(roomId, 'alice', 'on-one')).toBe(true);
        expect(await other.addConnection(roomId, 'alice', 'on-two')).toBe(false);
        expect(await store.removeConnection(roomId, 'alice', 'on-one')).toBe(false);
        expect(await other.online(roomId)).toEqual(['alice']);
        expect(await other.removeConnection(roomId, 'alice', 'on-two')).toBe(true);
        expect(await store.online(roomId)).toEqual([]);
      });
    });

    describe('typing', () => {
      const start = (instance: PresenceStore, roomId: string, user: string, connection: string, at: number) =>
        instance.startTyping(roomId, { userId: user, connectionId: connection }, at, THROTTLE_MS, TTL_MS);

      it('broadcasts a start unless one was broadcast within throttleMs', async () => {
        const roomId = newRoom();
        expect(await start(store, roomId, 'alice', 'c1', now)).toBe(true);
        expect(await start(store, roomId, 'alice', 'c1', now + THROTTLE_MS - 1)).toBe(false);
        expect(await start(store, roomId, 'bob', 'c2', now + 1)).toBe(true);
        expect(await start(store, roomId, 'alice', 'c1', now + THROTTLE_MS)).toBe(true);
        expect(sorted(await store.typing(roomId, now + THROTTLE_MS))).toEqual(['alice', 'bob']);
        expect(await store.typing(newRoom(), now)).toEqual([]);
      });

      it('lasts ttlMs after the latest start, throttled starts included, and never lists an expired typist', async () => {
        const roomId = newRoom();
        expect(await start(store, roomId, 'alice', 'c1', now)).toBe(true);
        expect(await start(store, roomId, 'alice', 'c1', now + 1_000)).toBe(false);
        expect(await store.typing(roomId, now + TTL_MS + 999)).toEqual(['alice']);
        expect(await store.expireTyping(roomId, now + TTL_MS + 999)).toEqual([]);
        expect(await store.typing(roomId, now + TTL_MS + 1_000)).toEqual([]);
        expect(await store.expireTyping(roomId, now + TTL_MS + 1_000)).toEqual([{ userId: 'alice', connectionId: 'c1' }]);
      });

      it('ends by itself only through expireTyping, which returns each expired typist once and keeps the others', async () => {
        const roomId = newRoom();
        await start(store, roomId, 'alice', 'c1', now);
        await start(store, roomId, 'bob', 'c2', now + 5_000);
        expect(await store.typing(roomId, now + TTL_MS)).toEqual(['bob']);
        expect(await store.expireTyping(roomId, now + TTL_MS)).toEqual([{ userId: 'alice', connectionId: 'c1' }]);
        expect(await store.expireTyping(roomId, now + TTL_MS)).toEqual([]);
        expect(await store.stopTyping(roomId, 'alice')).toBeUndefined();
        expect(await store.typing(roomId, now + TTL_MS)).toEqual(['bob']);
        expect(await start(store, roomId, 'alice', 'c3', now + TTL_MS + 1)).toBe(true);
      });

      it('stops a typist once, returning who was typing, and broadcasts the next start at once', async () => {
        const roomId = newRoom();
        await start(store, roomId, 'alice', 'c1', now);
        expect(await store.stopTyping(roomId, 'alice')).toEqual({ userId: 'alice', connectionId: 'c1' });
        expect(await store.stopTyping(roomId, 'alice')).toBeUndefined();
        expect(await store.stopTyping(roomId, 'bob')).toBeUndefined();
        expect(await store.typing(roomId, now)).toEqual([]);
        expect(await store.expireTyping(roomId, now + TTL_MS)).toEqual([]);
        expect(await start(store, roomId, 'alice', 'c2', now + 1)).toBe(true);
      });

      it('throttles, stops and expires one user across instances, telling exactly one of two racing starts', async () => {
        const other = await deployment.open();
        const roomId = newRoom();
        const raced = await Promise.all([start(store, roomId, 'alice', 'on-one', now), start(other, roomId, 'alice', 'on-two', now)]);
        expect(sorted(raced.map(String))).toEqual(['false', 'true']);
        const broadcastFrom = raced[0] ? 'on-one' : 'on-two';
        expect(await start(other, roomId, 'alice', 'on-two', now + 1)).toBe(false);
        expect(await other.typing(roomId, now + 1)).toEqual(['alice']);
        expect(await other.stopTyping(roomId, 'alice')).toEqual({ userId: 'alice', connectionId: broadcastFrom });
        expect(await store.stopTyping(roomId, 'alice')).toBeUndefined();
        expect(await store.typing(roomId, now + 1)).toEqual([]);
        expect(await start(other, roomId, 'bob', 'on-two', now)).toBe(true);
        expect(await store.expireTyping(roomId, now + TTL_MS)).toEqual([{ userId: 'bob', connectionId: 'on-two' }]);
        expect(await other.expireTyping(roomId, now + TTL_MS)).toEqual([]);
      });
    });

    if (announces) {
      it('announces each change it reports, in the order decided: racing instances never put a stop before its start', async () => {
        if (!deployment.heard) throw new Error('the deployment of a store that announces needs heard()');
        expect(store.announces).toBe(true);
        const other = await deployment.open();
        const roomId = newRoom();
        const heard = await deployment.heard(roomId);
        const instances = [store, other];
        let reported = 0;
        const count = (changed: boolean) => (reported += changed ? 1 : 0);
        // A user moving between instances: one connection goes while the next comes, at once.
        count(await store.addConnection(roomId, 'alice', 'c0'));
        for (let i = 1; i <= 30; i++) {
          const [going, coming] = [instances[(i - 1) % 2], instances[i % 2]];
          const later = new Promise((resolve) => setTimeout(resolve, i % 3)).then(() => coming.addConnection(roomId, 'alice', `c${i}`));
          const changes = await Promise.all([going.removeConnection(roomId, 'alice', `c${i - 1}`), later]);
          changes.forEach(count);
        }
        // Typing stopped on one instance while another starts it again (throttled for the whole test: a start is told only after a stop).
        const startOn = (instance: PresenceStore, i: number) =>
          instance.startTyping(roomId, { userId: 'bob', connectionId: `t${i}` }, now + i, 60_000, TTL_MS);
        count(await startOn(store, 0));
        for (let i = 1; i <= 30; i++) {
          const [stopping, starting] = [instances[i % 2], instances[(i + 1) % 2]];
          // The start follows the stop by 0–2 ms: sometimes before the stop is decided, sometimes just after.
          const later = new Promise((resolve) => setTimeout(resolve, i % 3)).then(() => startOn(starting, i));
          const [stopped, started] = await Promise.all([stopping.stopTyping(roomId, 'bob'), later]);
          count(stopped !== undefined);
          count(started);
        }
        await waitFor(() => heard().length >= reported, 5000, `the ${String(reported)} changes on the channel`);
        const events = heard();
        expect(events).toHaveLength(reported);
        const presence = events.filter((e) => e.type === 'presence').map((e) => (e.type === 'presence' ? e.data.status : ''));
        const typing = events.filter((e) => e.type !== 'presence').map((e) => e.type);
        // Strictly alternating, starting with the first change, and ending where the store stands.
        presence.forEach((status, i) => expect(status).toBe(i % 2 === 0 ? 'online' : 'offline'));
        typing.forEach((type, i) => expect(type).toBe(i % 2 === 0 ? 'typing' : 'typing_stopped'));
        expect(await store.online(roomId)).toEqual(presence.at(-1) === 'online' ? ['alice'] : []);
        expect(await store.typing(roomId, now + 30)).toEqual(typing.at(-1) === 'typing' ? ['bob'] : []);
      });

      it('ends the typing of a user whose last connection leaves, announcing the stop before the offline', async () => {
        const roomId = newRoom();
        const heard = await deployment.heard!(roomId);
        expect(await store.addConnection(roomId, 'alice', 'c1')).toBe(true);
        expect(await store.startTyping(roomId, { userId: 'alice', connectionId: 'c1' }, now, THROTTLE_MS, TTL_MS)).toBe(true);
        expect(await store.removeConnection(roomId, 'alice', 'c1')).toBe(true);
        expect(await store.typing(roomId, now)).toEqual([]);
        await waitFor(() => heard().length >= 4, 5000, 'four events on the channel');
        expect(heard().map((e) => (e.type === 'presence' ? e.data.status : e.type))).toEqual(['online', 'typing', 'typing_stopped', 'offline']);
        expect(await store.stopTyping(roomId, 'alice')).toBeUndefined();
      });
    }

    if (!shared) return;

    it('answers from this instance’s own connections while the shared part is unreachable, never failing', async () => {
      if (!deployment.cutOff) throw new Error('a shared store’s deployment needs cutOff()');
      const other = await deployment.open();
      const roomId = newRoom();
      expect(await other.addConnection(roomId, 'bob', 'elsewhere')).toBe(true);
      expect(await store.addConnection(roomId, 'alice', 'c1')).toBe(true);
      await deployment.cutOff();
      expect(await store.online(roomId)).toEqual(['alice']);
      expect(await store.addConnection(roomId, 'carol', 'c2')).toBe(true);
      expect(sorted(await store.online(roomId))).toEqual(['alice', 'carol']);
      expect(await store.startTyping(roomId, { userId: 'carol', connectionId: 'c2' }, now, THROTTLE_MS, TTL_MS)).toBe(true);
      expect(await store.startTyping(roomId, { userId: 'carol', connectionId: 'c2' }, now + 1, THROTTLE_MS, TTL_MS)).toBe(false);
      expect(await store.typing(roomId, now + 1)).toEqual(['carol']);
      expect(await store.stopTyping(roomId, 'carol')).toEqual({ userId: 'carol', connectionId: 'c2' });
      await store.startTyping(roomId, { userId: 'alice', connectionId: 'c1' }, now, THROTTLE_MS, TTL_MS);
      expect(await store.expireTyping(roomId, now + TTL_MS)).toEqual([{ userId: 'alice', connectionId: 'c1' }]);
      expect(await store.removeConnection(roomId, 'carol', 'c2')).toBe(true);
      expect(await store.online(roomId)).toEqual(['alice']);
    });
  });
}
