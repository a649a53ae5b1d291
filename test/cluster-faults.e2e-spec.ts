import { setTimeout as pause } from 'node:timers/promises';
import { waitFor } from '../scripts/processes.mjs';
import type { Message } from '../src/chat/protocol.js';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { ask, join, messagesUntil, seqs } from './support/client.js';
import { UNTHROTTLED, useInstances, type Instances } from './support/instances.js';
import { sharedCluster } from './support/redis-cluster.js';
import { fullHistory } from './support/rest.js';
import type { TestClient } from './support/ws-client.js';

/** Between retries of a send refused as `unavailable`: a client's backoff, not a synchronisation. */
const RETRY_MS = 50;

/** Traffic helpers on the instances of a `describe`. */
function trafficOn(chat: Instances) {
  /** Sends one message and retries it with the same client_msg_id while the store answers `unavailable`, as a client does. */
  const sendSurely = (client: TestClient, roomId: string, content: string): Promise<Message> =>
    waitFor(
      async () => {
        const answer = await ask(client, { type: 'send_message', room_id: roomId, content, client_msg_id: content }, 5000);
        if (answer.type === 'message_ack') return answer.message as Message;
        if (answer.type === 'error' && answer.code === 'unavailable') return pause(RETRY_MS).then(() => undefined);
        throw new Error(`send answered ${JSON.stringify(answer)}`);
      },
      30_000,
      `the send of ${content}`,
      0,
    );

  /** Sends messages one after another until `stop` resolves, then `after` more; returns the acknowledged messages. */
  const traffic = async (client: TestClient, roomId: string, label: string, stop: Promise<unknown>, after = 5) => {
    let stopped = false;
    void stop.then(() => (stopped = true));
    const acked: Message[] = [];
    let extra = 0;
    while (!stopped || extra++ < after) acked.push(await sendSurely(client, roomId, `${label}-${acked.length}`));
    return acked;
  };

  /** Every watcher got every acknowledged message once, in seq order. */
  const expectAllInOrder = async (watchers: TestClient[], acked: Message[]) => {
    const last = Math.max(...acked.map((message) => message.seq ?? 0));
    for (const watcher of watchers) {
      const seen = await messagesUntil(watcher, last, 20_000);
      expect(seqs(seen)).toEqual(seqs(seen).toSorted((a, b) => a - b));
      expect(new Set(seqs(seen)).size).toBe(seen.length);
      expect(seen.map((message) => message.message_id)).toEqual(expect.arrayContaining(acked.map((message) => message.message_id)));
    }
  };

  const slotOf = async (roomId: string) => {
    const cluster = await sharedCluster.get();
    const key = new RedisKeys(chat.prefix).room(roomId, 'meta');
    return Number(await cluster.command(cluster.ports[0], 'CLUSTER', 'KEYSLOT', key));
  };

  const setUp = async () => {
    const roomId = await chat.room('alice', ['bob', 'carol']);
    const [sender, nearby, remote] = await Promise.all([chat.connect('alice', 0), chat.connect('bob', 0), chat.connect('carol', 1)]);
    for (const client of [sender, nearby, remote]) await join(client, roomId);
    return { roomId, sender, watchers: [nearby, remote] };
  };

  /** `setUp`, then the room's slot and master, and a few messages first so the slot has keys. */
  const setUpOnMaster = async () => {
    const room = await setUp();
    const cluster = await sharedCluster.get();
    const slot = await slotOf(room.roomId);
    const master = await cluster.masterOf(slot);
    for (let i = 0; i < 5; i++) await sendSurely(room.sender, room.roomId, `before-${i}`);
    return { ...room, cluster, slot, master };
  };

  /** Moves the room's slot to another master while the sender keeps sending; every watcher gets every message in order. Returns the new master. */
  const moveUnderTraffic = async ({ roomId, sender, watchers, cluster, slot, master: from }: Awaited<ReturnType<typeof setUpOnMaster>>) => {
    const to = (await cluster.topology()).find((node) => node.master && !node.failed && node.port !== from)!.port;
    const moved = cluster.migrateSlot(slot, to);
    const acked = await traffic(sender, roomId, 'moving', moved);
    await moved;
    expect(await cluster.masterOf(slot)).toBe(to);
    await expectAllInOrder(watchers, acked);
    return to;
  };

  /**
   * With the replica of `master` killed, a send in the room (`content` as its
   * client_msg_id) is refused as `unavailable`; `meanwhile` runs then too.
   * Once the replica is back, the same send is acknowledged.
   */
  const expectUnavailableWithoutReplica = async (master: number, sender: TestClient, roomId: string, content: string, meanwhile?: () => Promise<void>) => {
    const cluster = await sharedCluster.get();
    const replica = await cluster.replicaOf(master);
    await cluster.kill(replica);
    try {
      const answer = await ask(sender, { type: 'send_message', room_id: roomId, content, client_msg_id: content }, 5000);
      expect(answer).toMatchObject({ type: 'error', code: 'unavailable' });
      await meanwhile?.();
    } finally {
      await cluster.restart(replica);
    }
    expect((await sendSurely(sender, roomId, content)).content).toBe(content);
  };

  return { sendSurely, traffic, expectAllInOrder, slotOf, setUp, setUpOnMaster, moveUnderTraffic, expectUnavailableWithoutReplica };
}

describe('a Redis Cluster reshaped under live traffic (sharded pub/sub)', () => {
  const chat = useInstances({ mode: 'cluster', count: 2, env: UNTHROTTLED });
  const { traffic, expectAllInOrder, setUpOnMaster, moveUnderTraffic } = trafficOn(chat);

  // A slot's migration or a failover has taken over 20 s on a busy CI machine.
  it("keeps every message, in order, while the room's slot moves to another master", async () => {
    await moveUnderTraffic(await setUpOnMaster());
  }, 60_000);

  it("keeps every message, in order, while a replica takes over the room's master", async () => {
    const { roomId, sender, watchers, cluster, slot, master } = await setUpOnMaster();
    const promoted = cluster.failover(master);
    const acked = await traffic(sender, roomId, 'failover', promoted);
    const replica = await promoted;
    expect(await cluster.masterOf(slot)).toBe(replica);
    await expectAllInOrder(watchers, acked);
  }, 60_000);

  it("keeps hearing a room after its master is told again that it owns the room's slot", async () => {
    const { roomId, sender, watchers, cluster, slot, master } = await setUpOnMaster();
    const id = (await cluster.topology()).find((node) => node.port === master)!.id;
    // Nothing moves, but Redis 7.0 drops the slot's sharded subscriptions (those of both instances) each
    // time. The second time, the slot map ioredis reads is the one it already has.
    const tell = () => cluster.command(master, 'CLUSTER', 'SETSLOT', slot, 'NODE', id).then(() => pause(1000));
    const told = tell().then(tell);
    const acked = await traffic(sender, roomId, 'told', told);
    await expectAllInOrder(watchers, acked);
  }, 60_000);
});

describe('a Redis Cluster losing a master (REDIS_WAIT_REPLICAS=1)', () => {
  const chat = useInstances({ mode: 'cluster', count: 2, env: { ...UNTHROTTLED, REDIS_WAIT_REPLICAS: 1, REDIS_WAIT_TIMEOUT_MS: 500 } });
  const { traffic, expectAllInOrder, slotOf, setUp, setUpOnMaster, moveUnderTraffic, expectUnavailableWithoutReplica } = trafficOn(chat);

  it("waits for the replica of the room's own master: without one the room's sends are unavailable, other shards' rooms are not", async () => {
    const cluster = await sharedCluster.get();
    await cluster.waitReplicasInSync();
    const { roomId, sender } = await setUp();
    const master = await cluster.masterOf(await slotOf(roomId));
    // A room whose slot another master serves.
    let elsewhere = '';
    while (!elsewhere) {
      const candidate = await chat.room('alice', []);
      if ((await cluster.masterOf(await slotOf(candidate))) !== master) elsewhere = candidate;
    }
    await join(sender, elsewhere);
    await expectUnavailableWithoutReplica(master, sender, roomId, 'unsafe', async () => {
      expect(await ask(sender, { type: 'send_message', room_id: elsewhere, content: 'safe' }, 5000)).toMatchObject({ type: 'message_ack' });
    });
  }, 60_000);

  it("keeps every acknowledged message, in order, when the room's master is killed and its replica takes over", async () => {
    const { roomId, sender, watchers, cluster, slot, master } = await setUpOnMaster();
    const crash = (async () => {
      const { promoted, restart } = await cluster.killMaster(master);
      // With its one replica promoted, a shard has none left: WAIT 1 cannot be met until the old master is back as its replica.
      await restart();
      return promoted;
    })();
    const acked = await traffic(sender, roomId, 'crash', crash);
    expect(await cluster.masterOf(slot)).toBe(await crash);
    const history = await fullHistory(chat.first.http, roomId, 'alice');
    const bySeq = new Map(history.map((message) => [message.seq, message.message_id]));
    expect(acked.filter((message) => bySeq.get(message.seq) !== message.message_id)).toEqual([]);
    await expectAllInOrder(watchers, acked);
  }, 120_000);

  it("keeps every message, in order, while the room's slot moves to another master, and then waits for that master's replica", async () => {
    const room = await setUpOnMaster();
    await room.cluster.waitReplicasInSync();
    const to = await moveUnderTraffic(room);
    // WAIT must now reach the new master: without its replica the room's sends are unavailable,
    // even though the old master's replica would still acknowledge.
    await expectUnavailableWithoutReplica(to, room.sender, room.roomId, 'moved');
  }, 90_000);
});
