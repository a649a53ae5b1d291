import { randomUUID } from 'node:crypto';
import type { RedisService } from '../src/redis/redis.service.js';
import type { Member, Room } from '../src/rooms/room.store.js';
import { RedisRoomStore } from '../src/rooms/redis-room.store.js';
import { FOLLOW } from '../src/rooms/room.scripts.js';
import { redisService, uniquePrefix } from './support/redis.js';

/**
 * A room's members and a user's room list sit in two Redis slots, so adding
 * or removing a member takes steps on both. These interleavings are made on
 * purpose: an instance is held just before its list step while others act.
 */

type Gate = { reached: Promise<void>; release: () => void };

/** An instance on the shared Redis whose next run of `script` waits until released. */
async function instance(prefix: string) {
  const redis = await redisService(prefix);
  const run = redis.run.bind(redis);
  let held: { script: string; reached: () => void; released: Promise<void> } | undefined;
  redis.run = async (script, keys, args) => {
    const gate = held;
    if (gate?.script === script) {
      held = undefined;
      gate.reached();
      await gate.released;
    }
    return run(script, keys, args);
  };
  const hold = (script: string): Gate => {
    let reached!: () => void;
    let release!: () => void;
    const gate: Gate = { reached: new Promise((resolve) => (reached = resolve)), release: () => release() };
    held = { script, reached, released: new Promise((resolve) => (release = resolve)) };
    return gate;
  };
  return { redis, store: new RedisRoomStore(redis), hold };
}

const member = (userId: string): Member => ({ user_id: userId, role: 'member', joined_at: new Date().toISOString() });
const LIMITS = { membersPerRoom: 100, roomsPerUser: 2 };

describe('RedisRoomStore under interleaved steps', () => {
  const prefix = uniquePrefix();
  const services: RedisService[] = [];
  const open = async () => {
    const opened = await instance(prefix);
    services.push(opened.redis);
    return opened;
  };
  afterAll(async () => {
    for (const redis of services) await redis.onApplicationShutdown();
  });

  const newRoom = async (store: RedisRoomStore): Promise<string> => {
    const roomId = randomUUID();
    const room: Room = {
      room_id: roomId,
      room_type: 'team',
      room_name: null,
      description: null,
      owner_id: 'owner',
      member_ids: [],
      is_active: true,
      is_archived: false,
      created_at: new Date().toISOString(),
      last_message_at: null,
    };
    await store.create(room, [{ user_id: 'owner', role: 'owner', joined_at: room.created_at }], { ...LIMITS, roomsPerUser: 1000, roomsCreatedByOwner: null });
    return roomId;
  };
  const listed = async (store: RedisRoomStore, userId: string) => (await store.listForUser(userId, 0, 100)).items.map((r) => r.room_id).sort();
  const memberships = async (store: RedisRoomStore, userId: string, roomIds: string[]) => {
    const found = [];
    for (const roomId of roomIds) if (await store.isMember(roomId, userId)) found.push(roomId);
    return found.sort();
  };

  it('keeps the place of a re-add whose room a racing removal unlisted: the user stays within roomsPerUser', async () => {
    const [a, b, c] = [await open(), await open(), await open()];
    const rooms = [await newRoom(a.store), await newRoom(a.store), await newRoom(a.store)];
    const user = `u-${randomUUID()}`;
    expect((await a.store.addMember(rooms[0], member(user), LIMITS)).status).toBe('added');
    // B removes the user, held before its list step; A adds them again, held before its own.
    const removing = b.hold(FOLLOW);
    const removal = b.store.removeMember(rooms[0], user);
    await removing.reached;
    const adding = a.hold(FOLLOW);
    const readd = a.store.addMember(rooms[0], member(user), LIMITS);
    await adding.reached;
    removing.release();
    expect(await removal).toBe(true);
    // The list now lacks the room for a moment; C's adds must still count it.
    expect((await c.store.addMember(rooms[1], member(user), LIMITS)).status).toBe('added');
    expect((await c.store.addMember(rooms[2], member(user), LIMITS)).status).toBe('user_full');
    adding.release();
    expect((await readd).status).toBe('added');
    expect(await memberships(c.store, user, rooms)).toEqual([rooms[0], rooms[1]].sort());
    expect(await listed(c.store, user)).toEqual([rooms[0], rooms[1]].sort());
  });

  it('lets the later of an add and a removal decide the list, whichever list step lands last', async () => {
    const [a, b] = [await open(), await open()];
    const roomId = await newRoom(a.store);
    const user = `u-${randomUUID()}`;
    // The add is held before its list step while the removal completes: the removal came later.
    const adding = a.hold(FOLLOW);
    const add = a.store.addMember(roomId, member(user), LIMITS);
    await adding.reached;
    expect(await b.store.removeMember(roomId, user)).toBe(true);
    adding.release();
    expect((await add).status).toBe('added');
    expect(await memberships(b.store, user, [roomId])).toEqual([]);
    expect(await listed(b.store, user)).toEqual([]);
    // A removal of someone not a member touches no list: nothing left behind for a made-up user.
    expect(await b.store.removeMember(roomId, `ghost-${randomUUID()}`)).toBe(false);
    const keys = await a.redis.client.keys(`${prefix}chat:user:{ghost-*`);
    expect(keys).toEqual([]);
  });
});
