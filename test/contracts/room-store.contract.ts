import { randomUUID } from 'node:crypto';
import { directPair, type CreateLimits, type Member, type Room, type RoomStore } from '../../src/rooms/room.store.js';
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
/** Limits far beyond what a test reaches. */
const ROOMY: CreateLimits = { membersPerRoom: 1000, roomsPerUser: 1000, roomsCreatedByOwner: null };
const ALL = 1000;

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
      await store.create(created, [member(alice, 1, 'owner'), member(bob, 2)], ROOMY);
      const found = await store.get(created.room_id);
      expect({ ...found, member_ids: sorted(found?.member_ids ?? []) }).toEqual({ ...created, member_ids: sorted([alice, bob]) });
      expect(byUser((await store.members(created.room_id, 0, ALL)).items)).toEqual(byUser([member(alice, 1, 'owner'), member(bob, 2)]));
      expect(await store.get(`room-${randomUUID()}`)).toBeUndefined();
      expect(await store.members(`room-${randomUUID()}`, 0, ALL)).toEqual({ items: [], total: 0 });
    });

    it('answers isMember for members, non-members and unknown rooms', async () => {
      const [alice, mallory] = [user('alice'), user('mallory')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner')], ROOMY);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, mallory)).toBe(false);
      expect(await store.isMember(`room-${randomUUID()}`, alice)).toBe(false);
    });

    it('adds a member once: adding again returns the existing member unchanged', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner')], ROOMY);
      expect(await store.addMember(created.room_id, member(bob, 2), ROOMY)).toEqual({ status: 'added', member: member(bob, 2) });
      expect(await store.addMember(created.room_id, member(bob, 3), ROOMY)).toEqual({ status: 'existing', member: member(bob, 2) });
      expect(await store.addMember(created.room_id, member(alice, 4), ROOMY)).toEqual({ status: 'existing', member: member(alice, 1, 'owner') });
      expect(byUser((await store.members(created.room_id, 0, ALL)).items)).toEqual(byUser([member(alice, 1, 'owner'), member(bob, 2)]));
      expect(sorted((await store.get(created.room_id))?.member_ids ?? [])).toEqual(sorted([alice, bob]));
    });

    it('removes a member: true once, false when the user was not a member', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner'), member(bob, 2)], ROOMY);
      expect(await store.removeMember(created.room_id, bob)).toBe(true);
      expect(await store.removeMember(created.room_id, bob)).toBe(false);
      expect(await store.removeMember(created.room_id, user('never'))).toBe(false);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      expect((await store.get(created.room_id))?.member_ids).toEqual([alice]);
      expect(await store.members(created.room_id, 0, ALL)).toEqual({ items: [member(alice, 1, 'owner')], total: 1 });
      expect(await store.listForUser(bob, 0, ALL)).toEqual({ items: [], total: 0 });
    });

    it('lists a user’s rooms, the most recently joined first, and no one else’s', async () => {
      const [dora, erin] = [user('dora'), user('erin')];
      // A room's members join when it is created.
      const first = room(dora, { created_at: at(1) });
      const second = room(erin, { created_at: at(2) });
      const third = room(erin, { created_at: at(4) });
      const notHers = room(erin, { created_at: at(5) });
      await store.create(first, [member(dora, 1, 'owner')], ROOMY);
      await store.create(second, [member(erin, 2, 'owner'), member(dora, 2)], ROOMY);
      await store.create(third, [member(erin, 4, 'owner')], ROOMY);
      await store.create(notHers, [member(erin, 5, 'owner')], ROOMY);
      await store.addMember(third.room_id, member(dora, 6), ROOMY);
      const { items: listed, total } = await store.listForUser(dora, 0, ALL);
      expect(total).toBe(3);
      expect(listed.map((r) => r.room_id)).toEqual([third.room_id, second.room_id, first.room_id]);
      expect(sorted(listed[0].member_ids)).toEqual(sorted([dora, erin]));
      expect(listed[2]).toEqual({ ...first, member_ids: [dora] });
      expect(await store.listForUser(user('nobody'), 0, ALL)).toEqual({ items: [], total: 0 });
    });

    it('lists a room again first once the user rejoins it', async () => {
      const dora = user('dora');
      const [first, second] = [room(dora, { created_at: at(1) }), room(dora, { created_at: at(2) })];
      await store.create(first, [member(dora, 1, 'owner')], ROOMY);
      await store.create(second, [member(dora, 2, 'owner')], ROOMY);
      await store.removeMember(first.room_id, dora);
      await store.addMember(first.room_id, member(dora, 3), ROOMY);
      expect((await store.listForUser(dora, 0, ALL)).items.map((r) => r.room_id)).toEqual([first.room_id, second.room_id]);
    });

    it('pages a user’s rooms and a room’s members with their totals', async () => {
      const dora = user('dora');
      const rooms = [room(dora, { created_at: at(1) }), room(dora, { created_at: at(2) }), room(dora, { created_at: at(3) })];
      for (const [n, each] of rooms.entries()) await store.create(each, [member(dora, n + 1, 'owner')], ROOMY);
      const page = await store.listForUser(dora, 1, 1);
      expect(page.total).toBe(3);
      expect(page.items.map((r) => r.room_id)).toEqual([rooms[1].room_id]);
      const [bob, carol] = [user('bob'), user('carol')];
      await store.addMember(rooms[0].room_id, member(bob, 5), ROOMY);
      await store.addMember(rooms[0].room_id, member(carol, 6), ROOMY);
      expect(await store.members(rooms[0].room_id, 1, 5)).toEqual({ items: [member(bob, 5), member(carol, 6)], total: 3 });
    });

    it('refuses a write past a limit and leaves nothing of it behind', async () => {
      const [alice, bob, carol] = [user('alice'), user('bob'), user('carol')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner'), member(bob, 2)], ROOMY);
      expect(await store.addMember(created.room_id, member(carol, 3), { ...ROOMY, membersPerRoom: 2 })).toEqual({ status: 'room_full' });
      expect(await store.addMember(created.room_id, member(carol, 3), { ...ROOMY, roomsPerUser: 0 })).toEqual({ status: 'user_full' });
      expect(await store.isMember(created.room_id, carol)).toBe(false);
      const refused = room(carol);
      expect(await store.create(refused, [member(carol, 4, 'owner'), member(bob, 5)], { ...ROOMY, roomsPerUser: 1 })).toEqual({
        status: 'user_full',
        userId: bob,
      });
      expect(await store.get(refused.room_id)).toBeUndefined();
      expect(await store.create(room(carol), [member(carol, 6, 'owner')], { ...ROOMY, roomsCreatedByOwner: 0 })).toEqual({ status: 'owner_quota' });
      expect((await store.listForUser(carol, 0, ALL)).total).toBe(0);
    });

    it('creates one direct room per pair, whoever asks first', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const first = room(alice, { room_type: 'direct' });
      expect(await store.create(first, [member(alice, 1, 'owner'), member(bob, 1)], ROOMY, directPair(alice, bob))).toEqual({ status: 'created' });
      const again = room(bob, { room_type: 'direct' });
      expect(await store.create(again, [member(bob, 2, 'owner'), member(alice, 2)], ROOMY, directPair(bob, alice))).toEqual({
        status: 'exists',
        roomId: first.room_id,
      });
      expect(await store.get(again.room_id)).toBeUndefined();
    });

    it('makes every write visible to every instance as soon as it resolves', async () => {
      const other = await deployment.open();
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner')], ROOMY);
      expect(await other.get(created.room_id)).toEqual({ ...created, member_ids: [alice] });
      await other.addMember(created.room_id, member(bob, 2), ROOMY);
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
      await store.create(created, [member(alice, 1, 'owner'), member(carol, 2)], ROOMY);
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
      await expect(store.addMember(created.room_id, member(bob, 3), ROOMY)).rejects.toEqual(unavailable);
      await expect(store.removeMember(created.room_id, carol)).rejects.toEqual(unavailable);
      await expect(store.create(room(alice), [member(alice, 4, 'owner')], ROOMY)).rejects.toEqual(unavailable);
    });
  });
}
