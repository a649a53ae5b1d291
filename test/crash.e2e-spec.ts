import { Cluster, Redis } from 'ioredis';
import { waitFor } from '../scripts/processes.mjs';
import { RedisPresenceStore } from '../src/presence/redis-presence.store.js';
import { collect, join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { logs } from './support/logs.js';
import { quitCluster } from '../src/redis/connect.js';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { createRoom } from './support/rest.js';
import { ensureBuilt, type SpawnedInstance, spawnInstance } from './support/spawned.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const INSTANCE_TTL_MS = 1500;
/** The heartbeat runs every third of the TTL, so a reap may come one beat late; plus delivery. */
const REAPED_WITHIN_MS = INSTANCE_TTL_MS + INSTANCE_TTL_MS / 3 + 700;
const ENV = { INSTANCE_TTL_MS, TYPING_TTL_MS: 60_000 };

describe.each(['redis', 'cluster'] as const)('an instance that crashes (SIGKILL) leaves no ghosts, %s', (mode) => {
  beforeAll(() => ensureBuilt(), 180_000);
  const cluster = useInstances({ mode, count: 2, env: ENV });
  const [A, B] = [0, 1];
  let crashing: SpawnedInstance | undefined;
  const spawned: TestClient[] = [];
  let admin: Redis | Cluster;
  beforeAll(() => {
    admin =
      mode === 'cluster'
        ? new Cluster(cluster.clusterNodes.split(',').map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) })))
        : new Redis(cluster.redisUrl);
  });
  afterAll(() => (admin instanceof Cluster ? quitCluster(admin) : admin.quit()));
  /** Keys matching `pattern` on every master. */
  const keysLike = async (pattern: string): Promise<string[]> =>
    admin instanceof Cluster
      ? (await Promise.all(admin.nodes('master').map((node) => node.keys(pattern)))).flat()
      : admin.keys(pattern);

  const startCrashing = async (env: Record<string, number> = {}) => {
    const store = mode === 'cluster' ? { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.clusterNodes } : { REDIS_URL: cluster.redisUrl };
    crashing = await spawnInstance({ ...ENV, ...env, ...store, REDIS_KEY_PREFIX: cluster.prefix });
    return crashing;
  };
  const connectTo = async (instance: SpawnedInstance, user: string) => {
    const client = await TestClient.connect(instance.ws, token(user));
    spawned.push(client);
    return client;
  };
  afterEach(async () => {
    await crashing?.kill();
    await Promise.all(spawned.splice(0).map((client) => client.close()));
  });

  const instancesKey = () => new RedisKeys(cluster.prefix).instances();
  /** The id of the instance that holds `user`'s presence in `roomId` (from its `held` set). */
  const holderOf = async (roomId: string, user: string): Promise<string> => {
    const keys = new RedisKeys(cluster.prefix);
    const marker = keys.heldPrefix();
    for (const key of await keysLike(`${marker}*:held`)) {
      if (await admin.sismember(key, keys.heldPair(roomId, user))) return key.slice(marker.length, -'}:held'.length);
    }
    throw new Error(`no instance holds ${user} in ${roomId}`);
  };
  const heartbeating = (id: string) =>
    waitFor(async () => (await admin.zscore(instancesKey(), id)) !== null, 3000, `instance ${id} heartbeating`);

  const crashWhileTyping = async (waitForHeartbeat: boolean, crashingEnv: Record<string, number> = {}) => {
    const roomId = await createRoom(cluster.all[A].http, 'alice', ['bob', 'carol', 'dave']);
    const [alice, carol, doomed] = await Promise.all([cluster.connect('alice', A), cluster.connect('carol', B), startCrashing(crashingEnv)]);
    await join(alice, roomId);
    await join(carol, roomId);
    expect(await alice.next('presence')).toMatchObject({ user_id: 'carol', status: 'online' });
    const bob = await connectTo(doomed, 'bob');
    await join(bob, roomId);
    for (const client of [alice, carol]) expect(await client.next('presence')).toMatchObject({ user_id: 'bob', status: 'online' });
    bob.send({ type: 'typing', room_id: roomId });
    for (const client of [alice, carol]) expect(await client.next('typing')).toMatchObject({ user_id: 'bob' });
    if (waitForHeartbeat) await heartbeating(await holderOf(roomId, 'bob'));

    const killedAt = Date.now();
    await doomed.kill();
    for (const client of [alice, carol]) {
      expect(await client.next('typing_stopped', REAPED_WITHIN_MS)).toEqual({ type: 'typing_stopped', room_id: roomId, user_id: 'bob' });
      expect(await client.next('presence', REAPED_WITHIN_MS)).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'offline' });
    }
    expect(Date.now() - killedAt).toBeLessThanOrEqual(REAPED_WITHIN_MS);
    await Promise.all([alice.nothing(INSTANCE_TTL_MS / 2), carol.nothing(0)]);
    // The reap's scripts publish as they clear; its log line follows them.
    expect(logs.take('log', /^Cleared the presence of 1 dead instance\(s\)$/, RedisPresenceStore.name)).toHaveLength(1);

    const dave = await cluster.connect('dave', B);
    const joined = await join(dave, roomId);
    expect([...(joined.online as string[])].sort()).toEqual(['alice', 'carol', 'dave']);
    expect(joined.typing).toEqual([]);
  };

  it('clears a crashed instance’s presence and typing within INSTANCE_TTL_MS and tells every other instance once', () =>
    crashWhileTyping(true));

  it('clears them too when the instance crashes before its first heartbeat', () => crashWhileTyping(false));

  // As by default (TYPING_TTL_MS 5 s, INSTANCE_TTL_MS 15 s): the typing outlives its own deadline in Redis until the reap, which stops it.
  it('stops a typing whose TYPING_TTL_MS is shorter than INSTANCE_TTL_MS: the reap still finds it', () =>
    crashWhileTyping(false, { TYPING_TTL_MS: INSTANCE_TTL_MS / 4 }));

  it('keeps a user online in a room where they still have a connection on a live instance', async () => {
    const [alone, shared] = await Promise.all([
      createRoom(cluster.all[A].http, 'alice', ['bob', 'carol']),
      createRoom(cluster.all[A].http, 'alice', ['bob', 'carol']),
    ]);
    const [alice, bobTab, doomed] = await Promise.all([cluster.connect('alice', A), cluster.connect('bob', B), startCrashing()]);
    await join(alice, alone);
    await join(alice, shared);
    const bob = await connectTo(doomed, 'bob');
    await join(bob, alone);
    await join(bob, shared);
    await join(bobTab, shared);
    expect((await collect(alice, 'presence', 2)).map((frame) => frame.room_id).sort()).toEqual([alone, shared].sort());
    await heartbeating(await holderOf(alone, 'bob'));

    await doomed.kill();
    expect(await alice.next('presence', REAPED_WITHIN_MS)).toEqual({ type: 'presence', room_id: alone, user_id: 'bob', status: 'offline' });
    await alice.nothing(INSTANCE_TTL_MS / 2, 'presence');
    expect(logs.take('log', /^Cleared the presence of 1 dead instance\(s\)$/, RedisPresenceStore.name)).toHaveLength(1);
    const carol = await cluster.connect('carol', A);
    expect([...((await join(carol, shared)).online as string[])].sort()).toEqual(['alice', 'bob', 'carol']);
    expect([...((await join(carol, alone)).online as string[])].sort()).toEqual(['alice', 'carol']);
    bobTab.send({ type: 'send_message', room_id: shared, content: 'still here' });
    for (const client of [alice, carol]) expect(await client.next('message')).toMatchObject({ message: { sender_id: 'bob' } });
  });
});

describe('typing through an instance that crashes ends at TYPING_TTL_MS, not at the reap', () => {
  const env = { INSTANCE_TTL_MS: 20_000, TYPING_TTL_MS: 2500 };
  beforeAll(() => ensureBuilt(), 180_000);
  const cluster = useInstances({ mode: 'redis', count: 1, env });
  let doomed: SpawnedInstance | undefined;
  afterAll(() => doomed?.kill());

  it('is stopped once, for every other instance, by the instances that heard it start', async () => {
    const roomId = await createRoom(cluster.first.http, 'alice', ['bob']);
    doomed = await spawnInstance({ ...env, REDIS_URL: cluster.redisUrl, REDIS_KEY_PREFIX: cluster.prefix });
    const alice = await cluster.connect('alice');
    await join(alice, roomId);
    const bob = await TestClient.connect(doomed.ws, token('bob'));
    await join(bob, roomId);
    // Typing on: a start each throttle window (1 s) moves the deadline, and each is heard.
    for (let i = 0; i < 3; i++) {
      bob.send({ type: 'typing', room_id: roomId });
      expect(await alice.next('typing')).toMatchObject({ user_id: 'bob' });
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    bob.send({ type: 'typing', room_id: roomId });
    expect(await alice.next('typing')).toMatchObject({ user_id: 'bob' });
    const startedAt = Date.now();
    await doomed.kill();
    expect(await alice.next('typing_stopped', 5000)).toEqual({ type: 'typing_stopped', room_id: roomId, user_id: 'bob' });
    // Its own deadline, with the delivery; the reap of the dead instance is 20 s away.
    expect(Date.now() - startedAt).toBeLessThan(env.TYPING_TTL_MS + 1500);
    await alice.nothing(500, 'typing_stopped');
    await bob.close();
  });

  it('is stopped too for a connection that learned of it from its join (the typing list of joined)', async () => {
    const roomId = await createRoom(cluster.first.http, 'alice', ['bob']);
    doomed = await spawnInstance({ ...env, REDIS_URL: cluster.redisUrl, REDIS_KEY_PREFIX: cluster.prefix });
    const bob = await TestClient.connect(doomed.ws, token('bob'));
    await join(bob, roomId);
    bob.send({ type: 'typing', room_id: roomId });
    // Alice's instance serves no one in the room when the typing starts: she hears of it only from her join.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const alice = await cluster.connect('alice');
    expect((await join(alice, roomId)).typing).toEqual(['bob']);
    const startedAt = Date.now();
    await doomed.kill();
    expect(await alice.next('typing_stopped', 5000)).toEqual({ type: 'typing_stopped', room_id: roomId, user_id: 'bob' });
    expect(Date.now() - startedAt).toBeLessThan(env.TYPING_TTL_MS + 1500);
    await bob.close();
  });
});
