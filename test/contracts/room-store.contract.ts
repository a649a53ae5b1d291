import { randomUUID } from 'node:crypto';
import type { CreateLimits, Member, Room, RoomStore } from '../../src/rooms/room.store.js';
import { StoreUnavailableError } from '../../src/redis/store-unavailable.error.js';

/**
 * One deployment of a room store: `open()` gives an instance of it, and
 * every instance opened from one deployment shares its data (an in-memory
 * store has one instance, so it hands out that one).
 */
export interface RoomStoreDeployment {
  open(): Promise<RoomStore>;
  /** Makes the shared part unreachable from the instances opened so far (stores with a shared part only). */
  cutOff?(): Promise<void>;
  close(): Promise<void>;
}

const BASE = Date.parse('2026-01-01T00:00:00.000Z');
/** The n-th instant of a test, so "most recently joined" never rests on a clock tick. */
const at = (n: number): string => new Date(BASE + n * 1000).toISOString();

export function room(owner: string, fields: Partial<Room> = {}): Room {
  return {
    room_id: `room-${randomUUID()}`,
    room_type: 'team',
    room_name: 'contract room',
    description: null,
    owner_id: owner,
    member_ids: [],
    is_active: true,
    is_archived: false,
    created_at: at(0),
    last_message_at: null,
    ...fields,
  };
}

const member = (user_id: string, n: number, role: Member['role'] = 'member'): Member => ({ user_id, role, joined_at: at(n) });
const user = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
const byUser = (members: Member[]) => [...members].sort((a, b) => a.user_id.localeCompare(b.user_id));
const sorted = (ids: string[]) => [...ids].sort();
/** Limits that never refuse: the tests of limits say which one they set. */
const UNLIMITED: CreateLimits = { membersPerRoom: 1_000_000, roomsPerUser: 1_000_000, roomsCreatedByOwner: null };
/** Everything at once: the paging tests page on purpose. */
const ALL = 1_000_000;

/**
 * The `RoomStore` contract (src/rooms/room.store.ts), for any implementation.
 * `shared`: the store lives outside the process (every instance reaches it),
 * so it also keeps the contract for when it is unreachable.
 */
export function describeRoomStoreContract(
  name: string,
  deploy: () => Promise<RoomStoreDeployment>,
  { shared = false }: { shared?: boolean } = {},
): void {
  describe(`${name} honours the RoomStore contract`, () => {
    let deployment: RoomStoreDeployment;
    let store: RoomStore;
    beforeEach(async () => {
      deployment = await deploy();
      store = await deployment.open();
    });
    afterEach(async () => {
      await deployment.close();
    });

    it('gives back a created room with its members, and nothing for a room never created', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice, { room_name: 'Focus', description: 'deep work' });
      await store.create(created, [member(alice, 1, 'owner'), member(bob, 2)], UNLIMITED);
      const found = await store.get(created.room_id);
      expect({ ...found, member_ids: sorted(found?.member_ids ?? []) }).toEqual({ ...created, member_ids: sorted([alice, bob]) });
      expect(byUser((await store.members(created.room_id, 0, ALL)).items)).toEqual(byUser([member(alice, 1, 'owner'), member(bob, 2)]));
      expect(await store.get(`room-${randomUUID()}`)).toBeUndefined();
      expect(await store.members(`room-${randomUUID()}`, 0, ALL)).toEqual([]);
    });

    it('answers isMember for members, non-members and unknown rooms', async () => {
      const [alice, mallory] = [user('alice'), user('mallory')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner')], UNLIMITED);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, mallory)).toBe(false);
      expect(await store.isMember(`room-${randomUUID()}`, alice)).toBe(false);
    });

    it('adds a member once: adding again returns the existing member unchanged', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner')], UNLIMITED);
      expect(await store.addMember(created.room_id, member(bob, 2), UNLIMITED)).toEqual({ status: 'added', member: member(bob, 2) });
      expect(await store.addMember(created.room_id, member(bob, 3), UNLIMITED)).toEqual({ status: 'existing', member: member(bob, 2) });
      expect(await store.addMember(created.room_id, member(alice, 4), UNLIMITED)).toEqual({ status: 'existing', member: member(alice, 1, 'owner') });
      expect(byUser((await store.members(created.room_id, 0, ALL)).items)).toEqual(byUser([member(alice, 1, 'owner'), member(bob, 2)]));
      expect(sorted((await store.get(created.room_id))?.member_ids ?? [])).toEqual(sorted([alice, bob]));
    });

    it('removes a member: true once, false when the user was not a member', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner'), member(bob, 2)], UNLIMITED);
      expect(await store.removeMember(created.room_id, bob)).toBe(true);
      expect(await store.removeMember(created.room_id, bob)).toBe(false);
      expect(await store.removeMember(created.room_id, user('never'))).toBe(false);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      expect((await store.get(created.room_id))?.member_ids).toEqual([alice]);
      expect(await store.members(created.room_id, 0, ALL)).toEqual([member(alice, 1, 'owner')]);
      expect(await store.listForUser(bob, 0, ALL)).toEqual([]);
    });

    it('lists a user’s rooms, the most recently joined first, and no one else’s', async () => {
      const [dora, erin] = [user('dora'), user('erin')];
      const first = room(dora);
      const second = room(erin);
      const third = room(erin);
      const notHers = room(erin);
      await store.create(first, [member(dora, 1, 'owner')], UNLIMITED);
      await store.create(second, [member(erin, 2, 'owner'), member(dora, 3)], UNLIMITED);
      await store.create(third, [member(erin, 4, 'owner')], UNLIMITED);
      await store.create(notHers, [member(erin, 5, 'owner')], UNLIMITED);
      await store.addMember(third.room_id, member(dora, 6), UNLIMITED);
      const listed = (await store.listForUser(dora, 0, ALL)).items;
      expect(listed.map((r) => r.room_id)).toEqual([third.room_id, second.room_id, first.room_id]);
      expect(sorted(listed[0].member_ids)).toEqual(sorted([dora, erin]));
      expect(listed[2]).toEqual({ ...first, member_ids: [dora] });
      expect(await store.listForUser(user('nobody'), 0, ALL)).toEqual([]);
    });

    it('lists a room again first once the user rejoins it', async () => {
      const dora = user('dora');
      const [first, second] = [room(dora), room(dora)];
      await store.create(first, [member(dora, 1, 'owner')], UNLIMITED);
      await store.create(second, [member(dora, 2, 'owner')], UNLIMITED);
      await store.removeMember(first.room_id, dora);
      await store.addMember(first.room_id, member(dora, 3), UNLIMITED);
      expect((await store.listForUser(dora, 0, ALL)).items.map((r) => r.room_id)).toEqual([first.room_id, second.room_id]);
    });

    it('makes every write visible to every instance as soon as it resolves', async () => {
      const other = await deployment.open();
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner')], UNLIMITED);
      expect(await other.get(created.room_id)).toEqual({ ...created, member_ids: [alice] });
      await other.addMember(created.room_id, member(bob, 2), UNLIMITED);
      expect(await store.isMember(created.room_id, bob)).toBe(true);
      expect((await store.listForUser(bob, 0, ALL)).items.map((r) => r.room_id)).toEqual([created.room_id]);
      await store.removeMember(created.room_id, bob);
      expect(await other.isMember(created.room_id, bob)).toBe(false);
      expect((await other.members(created.room_id, 0, ALL)).items).toEqual([member(alice, 1, 'owner')]);
    });

    if (!shared) return;

    it('while the shared store is unreachable, rejects with unavailable except isMember for a pair this instance already asked about', async () => {
      if (!deployment.cutOff) throw new Error('a shared store’s deployment needs cutOff()');
      const [alice, bob, carol] = [user('alice'), user('bob'), user('carol')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner'), member(carol, 2)], UNLIMITED);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      await deployment.cutOff();
      const unavailable = expect.any(StoreUnavailableError);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      await expect(store.isMember(created.room_id, carol)).rejects.toEqual(unavailable);
      await expect(store.get(created.room_id)).rejects.toEqual(unavailable);
      await expect(store.members(created.room_id, 0, ALL)).rejects.toEqual(unavailable);
      await expect(store.listForUser(alice, 0, ALL)).rejects.toEqual(unavailable);
      await expect(store.addMember(created.room_id, member(bob, 3), UNLIMITED)).rejects.toEqual(unavailable);
      await expect(store.removeMember(created.room_id, carol)).rejects.toEqual(unavailable);
      await expect(store.create(room(alice), [member(alice, 4, 'owner')], UNLIMITED)).rejects.toEqual(unavailable);
    });
  });
}
