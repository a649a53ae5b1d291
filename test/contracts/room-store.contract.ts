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
const LIMITS: CreateLimits = { membersPerRoom: 1000, roomsPerUser: 1000, roomsCreatedByOwner: null };
/** The calls of the contract with room enough under every limit, answering members, rooms and pages as plain lists. */
const create = (s: RoomStore, created: Room, members: Member[]) => s.create(created, members, LIMITS);
const addMember = async (s: RoomStore, roomId: string, added: Member) => {
  const outcome = await s.addMember(roomId, added, LIMITS);
  return 'member' in outcome ? outcome.member : outcome;
};
const membersOf = async (s: RoomStore, roomId: string) => (await s.members(roomId, 0, 1000)).items;
const roomsOf = async (s: RoomStore, userId: string) => (await s.listForUser(userId, 0, 1000)).items;

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
      await create(store, created, [member(alice, 1, 'owner'), member(bob, 2)]);
      const found = await store.get(created.room_id);
      expect({ ...found, member_ids: sorted(found?.member_ids ?? []) }).toEqual({ ...created, member_ids: sorted([alice, bob]) });
      expect(byUser(await membersOf(store, created.room_id))).toEqual(byUser([member(alice, 1, 'owner'), member(bob, 2)]));
      expect(await store.get(`room-${randomUUID()}`)).toBeUndefined();
      expect(await membersOf(store, `room-${randomUUID()}`)).toEqual([]);
    });

    it('answers isMember for members, non-members and unknown rooms', async () => {
      const [alice, mallory] = [user('alice'), user('mallory')];
      const created = room(alice);
      await create(store, created, [member(alice, 1, 'owner')]);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, mallory)).toBe(false);
      expect(await store.isMember(`room-${randomUUID()}`, alice)).toBe(false);
    });

    it('adds a member once: adding again returns the existing member unchanged', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await create(store, created, [member(alice, 1, 'owner')]);
      expect(await addMember(store, created.room_id, member(bob, 2))).toEqual(member(bob, 2));
      expect(await addMember(store, created.room_id, member(bob, 3))).toEqual(member(bob, 2));
      expect(await addMember(store, created.room_id, member(alice, 4))).toEqual(member(alice, 1, 'owner'));
      expect(byUser(await membersOf(store, created.room_id))).toEqual(byUser([member(alice, 1, 'owner'), member(bob, 2)]));
      expect(sorted((await store.get(created.room_id))?.member_ids ?? [])).toEqual(sorted([alice, bob]));
    });

    it('removes a member: true once, false when the user was not a member', async () => {
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await create(store, created, [member(alice, 1, 'owner'), member(bob, 2)]);
      expect(await store.removeMember(created.room_id, bob)).toBe(true);
      expect(await store.removeMember(created.room_id, bob)).toBe(false);
      expect(await store.removeMember(created.room_id, user('never'))).toBe(false);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      expect((await store.get(created.room_id))?.member_ids).toEqual([alice]);
      expect(await membersOf(store, created.room_id)).toEqual([member(alice, 1, 'owner')]);
      expect(await roomsOf(store, bob)).toEqual([]);
    });

    it('lists a user’s rooms, the most recently joined first, and no one else’s', async () => {
      const [dora, erin] = [user('dora'), user('erin')];
      const first = room(dora);
      const second = room(erin);
      const third = room(erin);
      const notHers = room(erin);
      await create(store, first, [member(dora, 1, 'owner')]);
      await create(store, second, [member(erin, 2, 'owner'), member(dora, 3)]);
      await create(store, third, [member(erin, 4, 'owner')]);
      await create(store, notHers, [member(erin, 5, 'owner')]);
      await addMember(store, third.room_id, member(dora, 6));
      const listed = await roomsOf(store, dora);
      expect(listed.map((r) => r.room_id)).toEqual([third.room_id, second.room_id, first.room_id]);
      expect(sorted(listed[0].member_ids)).toEqual(sorted([dora, erin]));
      expect(listed[2]).toEqual({ ...first, member_ids: [dora] });
      expect(await roomsOf(store, user('nobody'))).toEqual([]);
    });

    it('lists a room again first once the user rejoins it', async () => {
      const dora = user('dora');
      const [first, second] = [room(dora), room(dora)];
      await create(store, first, [member(dora, 1, 'owner')]);
      await create(store, second, [member(dora, 2, 'owner')]);
      await store.removeMember(first.room_id, dora);
      await addMember(store, first.room_id, member(dora, 3));
      expect((await roomsOf(store, dora)).map((r) => r.room_id)).toEqual([first.room_id, second.room_id]);
    });

    it('makes every write visible to every instance as soon as it resolves', async () => {
      const other = await deployment.open();
      const [alice, bob] = [user('alice'), user('bob')];
      const created = room(alice);
      await create(store, created, [member(alice, 1, 'owner')]);
      expect(await other.get(created.room_id)).toEqual({ ...created, member_ids: [alice] });
      await addMember(other, created.room_id, member(bob, 2));
      expect(await store.isMember(created.room_id, bob)).toBe(true);
      expect((await roomsOf(store, bob)).map((r) => r.room_id)).toEqual([created.room_id]);
      await store.removeMember(created.room_id, bob);
      expect(await other.isMember(created.room_id, bob)).toBe(false);
      expect(await membersOf(other, created.room_id)).toEqual([member(alice, 1, 'owner')]);
    });

    if (!shared) return;

    it('while the shared store is unreachable, rejects with unavailable except isMember for a pair this instance already asked about', async () => {
      if (!deployment.cutOff) throw new Error('a shared store’s deployment needs cutOff()');
      const [alice, bob, carol] = [user('alice'), user('bob'), user('carol')];
      const created = room(alice);
      await create(store, created, [member(alice, 1, 'owner'), member(carol, 2)]);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      await deployment.cutOff();
      const unavailable = expect.any(StoreUnavailableError);
      expect(await store.isMember(created.room_id, alice)).toBe(true);
      expect(await store.isMember(created.room_id, bob)).toBe(false);
      await expect(store.isMember(created.room_id, carol)).rejects.toEqual(unavailable);
      await expect(store.get(created.room_id)).rejects.toEqual(unavailable);
      await expect(membersOf(store, created.room_id)).rejects.toEqual(unavailable);
      await expect(roomsOf(store, alice)).rejects.toEqual(unavailable);
      await expect(addMember(store, created.room_id, member(bob, 3))).rejects.toEqual(unavailable);
      await expect(store.removeMember(created.room_id, carol)).rejects.toEqual(unavailable);
      await expect(create(store, room(alice), [member(alice, 4, 'owner')])).rejects.toEqual(unavailable);
    });
  });
}
