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
  /** Leaves a direct pair claimed for `roomId` by a create that never finishes (a stopped instance; stores with a shared part only). */
  stallDirectClaim?(pair: string, roomId: string): Promise<void>;
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
const UNLIMITED: CreateLimits = { membersPerRoom: 1_000_000, roomsPerUser: 1_000_000, roomsCreatedByOwner: null };
const ALL = 1_000_000;
const CREATED = { status: 'created', roomId: expect.any(String) };
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
 * `stallable`: the deployment can leave a direct pair's claim unfinished (`stallDirectClaim`).
 */
export function describeRoomStoreContract(
  name: string,
  deploy: () => Promise<RoomStoreDeployment>,
  { shared = false, stallable = shared }: { shared?: boolean; stallable?: boolean } = {},
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

    it('lists rooms joined within one millisecond, or with a clock behind, in the order they were joined', async () => {
      const dora = user('dora');
      // Ids in the reverse of join order: a tie broken by id would list them backwards.
      const [first, second, third] = ['z', 'm', 'a'].map((prefix) => room(dora, { room_id: `${prefix}-${randomUUID()}` }));
      await create(store, first, [member(dora, 5, 'owner')]);
      await create(store, second, [member(dora, 5, 'owner')]);
      await create(store, third, [member(dora, 4, 'owner')]);
      expect((await roomsOf(store, dora)).map((r) => r.room_id)).toEqual([third.room_id, second.room_id, first.room_id]);
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

    it('refuses a create past roomsCreatedByOwner exactly at the bound, writing and counting nothing', async () => {
      const owner = user('owner');
      const two = { ...UNLIMITED, roomsCreatedByOwner: 2 };
      for (const n of [1, 2]) expect(await store.create(room(owner), [member(owner, n, 'owner')], two)).toEqual(CREATED);
      const refused = room(owner);
      expect(await store.create(refused, [member(owner, 3, 'owner')], two)).toEqual({ status: 'owner_quota' });
      expect(await store.get(refused.room_id)).toBeUndefined();
      expect((await store.listForUser(owner, 0, ALL)).total).toBe(2);
      const three = { ...UNLIMITED, roomsCreatedByOwner: 3 };
      expect(await store.create(room(owner), [member(owner, 4, 'owner')], three)).toEqual(CREATED);
      // Created in all: leaving a room gives no creation back.
      const [left] = (await store.listForUser(owner, 0, 1)).items;
      await store.removeMember(left.room_id, owner);
      expect(await store.create(room(owner), [member(owner, 5, 'owner')], three)).toEqual({ status: 'owner_quota' });
      expect(await store.create(room(owner), [member(owner, 6, 'owner')], UNLIMITED)).toEqual(CREATED);
    });

    it('refuses a create that would put a member past roomsPerUser exactly at the bound, writing nothing', async () => {
      const [busy, owner] = [user('busy'), user('owner')];
      const two = { ...UNLIMITED, roomsPerUser: 2 };
      expect(await store.create(room(user('other')), [member(busy, 1)], two)).toEqual(CREATED);
      expect(await store.create(room(owner), [member(owner, 2, 'owner'), member(busy, 3)], two)).toEqual(CREATED);
      const refused = room(owner);
      expect(await store.create(refused, [member(owner, 4, 'owner'), member(busy, 5)], two)).toEqual({ status: 'user_full', userId: busy });
      expect(await store.get(refused.room_id)).toBeUndefined();
      expect((await store.listForUser(owner, 0, ALL)).total).toBe(1);
      expect((await store.listForUser(busy, 0, ALL)).total).toBe(2);
      // The refused room was not counted as created by its owner.
      const quota = { ...two, roomsCreatedByOwner: 2 };
      expect(await store.create(room(owner), [member(owner, 6, 'owner')], quota)).toEqual(CREATED);
    });

    it('refuses to add past membersPerRoom exactly at the bound, writing nothing, and still answers an existing member', async () => {
      const [alice, bob, carol, dave] = [user('alice'), user('bob'), user('carol'), user('dave')];
      const three = { membersPerRoom: 3, roomsPerUser: 1_000_000 };
      const created = room(alice);
      await store.create(created, [member(alice, 1, 'owner'), member(bob, 2)], UNLIMITED);
      expect(await store.addMember(created.room_id, member(carol, 3), three)).toEqual({ status: 'added', member: member(carol, 3) });
      expect(await store.addMember(created.room_id, member(dave, 4), three)).toEqual({ status: 'room_full' });
      expect(await store.isMember(created.room_id, dave)).toBe(false);
      expect((await store.members(created.room_id, 0, ALL)).total).toBe(3);
      expect(await store.listForUser(dave, 0, ALL)).toEqual({ items: [], total: 0 });
      expect(await store.addMember(created.room_id, member(bob, 5), three)).toEqual({ status: 'existing', member: member(bob, 2) });
    });

    it('refuses to add a user past roomsPerUser exactly at the bound, writing nothing', async () => {
      const [owner, joiner] = [user('owner'), user('joiner')];
      const two = { membersPerRoom: 1_000_000, roomsPerUser: 2 };
      const rooms = [room(owner), room(owner), room(owner)];
      for (const [n, r] of rooms.entries()) await store.create(r, [member(owner, n + 1, 'owner')], UNLIMITED);
      for (const [n, r] of rooms.slice(0, 2).entries()) {
        expect(await store.addMember(r.room_id, member(joiner, 10 + n), two)).toEqual({ status: 'added', member: member(joiner, 10 + n) });
      }
      expect(await store.addMember(rooms[2].room_id, member(joiner, 12), two)).toEqual({ status: 'user_full' });
      expect(await store.isMember(rooms[2].room_id, joiner)).toBe(false);
      expect((await store.members(rooms[2].room_id, 0, ALL)).total).toBe(1);
      expect((await store.listForUser(joiner, 0, ALL)).total).toBe(2);
      await store.removeMember(rooms[0].room_id, joiner);
      expect(await store.addMember(rooms[2].room_id, member(joiner, 13), two)).toEqual({ status: 'added', member: member(joiner, 13) });
    });

    it('creates a direct room of a pair once, answering exists with the first room whichever user starts it, on any instance', async () => {
      const other = await deployment.open();
      const [alice, bob] = [user('alice'), user('bob')];
      const first = room(alice, { room_type: 'direct' });
      expect(directPair(alice, bob)).toBe(directPair(bob, alice));
      expect(await store.create(first, [member(alice, 1, 'owner'), member(bob, 2)], UNLIMITED, directPair(alice, bob))).toEqual({ status: 'created', roomId: first.room_id });
      for (const [instance, starter, peer] of [[store, bob, alice], [other, alice, bob], [other, bob, alice]] as const) {
        const again = room(starter, { room_type: 'direct' });
        const outcome = await instance.create(again, [member(starter, 3, 'owner'), member(peer, 4)], UNLIMITED, directPair(starter, peer));
        expect(outcome).toEqual({ status: 'exists', roomId: first.room_id });
        expect(await store.get(again.room_id)).toBeUndefined();
      }
      expect((await store.listForUser(bob, 0, ALL)).items.map((r) => r.room_id)).toEqual([first.room_id]);
      const carol = user('carol');
      const withCarol = room(alice, { room_type: 'direct' });
      expect(await store.create(withCarol, [member(alice, 5, 'owner'), member(carol, 6)], UNLIMITED, directPair(alice, carol))).toEqual({ status: 'created', roomId: withCarol.room_id });
    });

    if (stallable) {
      it('finishes a direct room whose claimant stopped before writing it: both users then get that one room', async () => {
        const other = await deployment.open();
        const [alice, bob] = [user('alice'), user('bob')];
        const stalled = room(alice, { room_type: 'direct' }).room_id;
        await deployment.stallDirectClaim!(directPair(alice, bob), stalled);
        const outcomes = await Promise.all(
          [[store, alice, bob], [other, bob, alice]].map(([instance, starter, peer]) =>
            (instance as RoomStore).create(room(starter as string, { room_type: 'direct' }), [member(starter as string, 1, 'owner'), member(peer as string, 2)], UNLIMITED, directPair(alice, bob)),
          ),
        );
        expect(outcomes.map((o) => ('roomId' in o ? o.roomId : o.status))).toEqual([stalled, stalled]);
        expect(outcomes.filter((o) => o.status === 'created')).toHaveLength(1);
        expect(sorted((await store.get(stalled))?.member_ids ?? [])).toEqual(sorted([alice, bob]));
        for (const id of [alice, bob]) expect((await roomsOf(store, id)).map((r) => r.room_id)).toEqual([stalled]);
      }, 20_000);
    }

    it('pages a user’s rooms and a room’s members stably, with the right total', async () => {
      const dora = user('dora');
      const rooms = Array.from({ length: 5 }, (_, n) => room(dora, { created_at: at(n + 1) }));
      for (const [n, r] of rooms.entries()) await store.create(r, [member(dora, n + 1, 'owner')], UNLIMITED);
      const newestFirst = [...rooms].reverse().map((r) => r.room_id);
      const roomPages = await Promise.all([0, 2, 4, 6].map((offset) => store.listForUser(dora, offset, 2)));
      expect(roomPages.map((page) => page.total)).toEqual([5, 5, 5, 5]);
      expect(roomPages.map((page) => page.items.map((r) => r.room_id))).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4), []]);
      expect(await store.listForUser(dora, 1, 3)).toEqual(await store.listForUser(dora, 1, 3));

      const crowd = room(dora, { created_at: at(10) });
      const members = [member(dora, 10, 'owner'), ...['m1', 'm2', 'm3', 'm4'].map((name, n) => member(user(name), 11 + n))];
      await store.create(crowd, members.slice(0, 1), UNLIMITED);
      for (const m of members.slice(1)) await store.addMember(crowd.room_id, m, UNLIMITED);
      const memberPages = await Promise.all([0, 2, 4].map((offset) => store.members(crowd.room_id, offset, 2)));
      expect(memberPages).toEqual([
        { items: members.slice(0, 2), total: 5 },
        { items: members.slice(2, 4), total: 5 },
        { items: members.slice(4), total: 5 },
      ]);
      expect(await store.members(crowd.room_id, 5, 2)).toEqual({ items: [], total: 5 });
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

    it('keeps a user’s rooms equal to their memberships when an add and a removal of them race on two instances', async () => {
      const other = await deployment.open();
      const alice = user('alice');
      const created = room(alice);
      await create(store, created, [member(alice, 1, 'owner')]);
      for (let i = 0; i < 40; i++) {
        const bob = user('bob');
        // Half the rounds start with bob a member; the removal starts 0–2 ms after the add.
        if (i % 2) await addMember(store, created.room_id, member(bob, 2));
        const later = new Promise((resolve) => setTimeout(resolve, i % 3)).then(() => other.removeMember(created.room_id, bob));
        await Promise.all([addMember(store, created.room_id, member(bob, 3)), later]);
        const isMember = await store.isMember(created.room_id, bob);
        expect((await roomsOf(other, bob)).map((r) => r.room_id)).toEqual(isMember ? [created.room_id] : []);
      }
    });

    it('never lets a user past roomsPerUser while their removal and re-add race with adds elsewhere', async () => {
      const [other, third] = [await deployment.open(), await deployment.open()];
      const owner = user('owner');
      const two = { membersPerRoom: 1_000_000, roomsPerUser: 2 };
      for (let i = 0; i < 15; i++) {
        const joiner = user('joiner');
        const rooms = [room(owner), room(owner), room(owner)];
        for (const [n, r] of rooms.entries()) await store.create(r, [member(owner, n + 1, 'owner')], UNLIMITED);
        await store.addMember(rooms[0].room_id, member(joiner, 10), two);
        const soon = (ms: number, call: () => Promise<unknown>) => new Promise((resolve) => setTimeout(resolve, ms)).then(call);
        await Promise.all([
          other.removeMember(rooms[0].room_id, joiner),
          soon(i % 3, () => store.addMember(rooms[0].room_id, member(joiner, 11), two)),
          soon(1, () => third.addMember(rooms[1].room_id, member(joiner, 12), two)),
          soon(2, () => third.addMember(rooms[2].room_id, member(joiner, 13), two)),
        ]);
        const memberOf = [];
        for (const r of rooms) if (await store.isMember(r.room_id, joiner)) memberOf.push(r.room_id);
        expect(memberOf.length).toBeLessThanOrEqual(2);
        expect(sorted((await roomsOf(other, joiner)).map((r) => r.room_id))).toEqual(sorted(memberOf));
      }
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
