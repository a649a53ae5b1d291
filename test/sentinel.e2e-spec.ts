import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../scripts/processes.mjs';
import { ask, join, messagesUntil, received, sendMany, seqs } from './support/client.js';
import { UNTHROTTLED, readiness, startInstance, useInstances, waitReadiness, type Instance } from './support/instances.js';
import { uniquePrefix } from './support/redis.js';
import { SentinelTopology } from './support/redis-sentinel.js';
import { fullHistory } from './support/rest.js';
import type { Message } from './support/shapes.js';
import { twoInstancesChatting } from './support/two-instances.js';
import type { TestClient } from './support/ws-client.js';

/**
 * Sends one message at a time with a `client_msg_id`, as a client that never
 * gives up: an `unavailable` answer is sent again with the same id after a
 * short pause (a client's backoff), so each message is acknowledged once.
 */
class Sender {
  readonly acked: Message[] = [];
  refused = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: TestClient,
    private readonly roomId: string,
    private readonly label: string,
  ) {
    this.done = this.pump();
  }

  /** Resolves once `count` more messages are acknowledged. */
  async ackedMore(count: number, timeoutMs = 30_000): Promise<void> {
    const target = this.acked.length + count;
    await waitFor(() => this.acked.length >= target, timeoutMs, `${count} more acks of ${this.label}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async pump(): Promise<void> {
    for (let n = 0; this.running; n++) {
      const id = `${this.label}-${n}`;
      for (;;) {
        const answer = await ask(this.client, { type: 'send_message', room_id: this.roomId, content: id, client_msg_id: id }, 10_000);
        if (answer.type === 'message_ack') {
          this.acked.push(answer.message as Message);
          break;
        }
        if (answer.code !== 'unavailable') throw new Error(`send refused: ${JSON.stringify(answer)}`);
        this.refused += 1;
        await sleep(50);
      }
    }
  }
}

/** Every acknowledged message is in the history once, with what was acknowledged, and each sender's in its order. */
function expectNoneLost(history: Message[], senders: Sender[]): void {
  const bySeq = new Map(history.map((message) => [message.seq, message]));
  expect(new Set(history.map((message) => message.message_id)).size).toBe(history.length);
  for (const sender of senders) {
    const missing = sender.acked.filter((ack) => bySeq.get(ack.seq)?.message_id !== ack.message_id);
    expect(missing).toEqual([]);
    const order = seqs(sender.acked);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  }
}

describe('Redis through Sentinel (REDIS_SENTINELS)', () => {
  let topology: SentinelTopology;
  beforeAll(async () => {
    topology = await SentinelTopology.start();
  }, 60_000);
  afterAll(async () => {
    await topology?.stop();
  });

  describe('with REDIS_WAIT_REPLICAS=1', () => {
    const chat = useInstances({
      mode: 'redis',
      env: async () => ({ ...UNTHROTTLED, ...topology.env, REDIS_URL: '', REDIS_WAIT_REPLICAS: 1, REDIS_WAIT_TIMEOUT_MS: 500 }),
    });

    it('serves rooms across instances and recovers a rejoin with since, on the master the sentinels name', async () => {
      await waitReadiness(chat.first.http, 200);
      await waitReadiness(chat.last.http, 200);
      const roomId = await chat.room('alice', ['bob']);
      const alice = await chat.connect('alice', chat.first);
      const bob = await chat.connect('bob', chat.last);
      const { epoch } = await join(alice, roomId);
      await join(bob, roomId);
      const sent = await sendMany(alice, roomId, 3);
      expect(await messagesUntil(bob, 3)).toEqual(sent);
      await bob.close();
      const missed = await sendMany(alice, roomId, 2);
      const again = await chat.connect('bob', chat.first);
      expect(await join(again, roomId, { seq: 3, epoch: epoch as string })).toMatchObject({ seq: 5, recovered: true });
      expect(await messagesUntil(again, 5)).toEqual(missed);
      expect(await topology.onMaster((redis) => redis.exists(`${chat.prefix}chat:{${roomId}}:log`))).toBe(1);
    });

    it('follows SENTINEL FAILOVER under traffic: no acknowledged message lost or reordered, live streams in order', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol']);
      const carol = await chat.connect('carol', chat.last);
      await join(carol, roomId);
      const alice = await chat.connect('alice', chat.first);
      const bob = await chat.connect('bob', chat.last);
      await join(alice, roomId);
      await join(bob, roomId);
      const senders = [new Sender(alice, roomId, 'a'), new Sender(bob, roomId, 'b')];
      try {
        await Promise.all(senders.map((sender) => sender.ackedMore(10)));
        const before = await topology.masterPort();
        expect(await topology.failover()).not.toBe(before);
        await Promise.all(senders.map((sender) => sender.ackedMore(10)));
      } finally {
        await Promise.all(senders.map((sender) => sender.stop()));
      }
      await waitReadiness(chat.first.http, 200);
      await waitReadiness(chat.last.http, 200);

      const history = await fullHistory(chat.first.http, roomId, 'alice');
      expectNoneLost(history, senders);
      await messagesUntil(carol, history.at(-1)?.seq ?? 0, 10_000);
      expect(received(carol)).toEqual(history);
    }, 90_000);

    it('follows a killed master: not ready while there is none, ready again after the promotion, nothing acknowledged lost', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const alice = await chat.connect('alice', chat.first);
      const bob = await chat.connect('bob', chat.last);
      await join(alice, roomId);
      await join(bob, roomId);
      const senders = [new Sender(alice, roomId, 'a'), new Sender(bob, roomId, 'b')];
      try {
        await Promise.all(senders.map((sender) => sender.ackedMore(10)));
        const notReady = waitReadiness(chat.first.http, 503, 30_000);
        const { restart } = await topology.killMaster();
        expect((await notReady).body.message).toMatch(/redis .* connection is/);
        await waitReadiness(chat.first.http, 200, 30_000);
        await waitReadiness(chat.last.http, 200, 30_000);
        // With one replica promoted and none left, WAIT 1 cannot be met: sends are refused until the old master is back as a replica.
        await restart();
        await Promise.all(senders.map((sender) => sender.ackedMore(10)));
      } finally {
        await Promise.all(senders.map((sender) => sender.stop()));
      }
      expectNoneLost(await fullHistory(chat.first.http, roomId, 'alice'), senders);
    }, 120_000);
  });
});

describe('Redis through Sentinel with passwords (REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD)', () => {
  const credentials = { password: 'data-password-0123', sentinelPassword: 'sentinel-password-0123' };
  let topology: SentinelTopology;
  const apps: Instance[] = [];
  beforeAll(async () => {
    topology = await SentinelTopology.start(credentials);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await topology?.stop();
  });

  it("carries messages between two instances that give both passwords, through a failover, and keeps one without the sentinels' not ready", async () => {
    const env = { ...topology.env, REDIS_URL: '', REDIS_KEY_PREFIX: uniquePrefix() };
    const both = { ...env, REDIS_PASSWORD: credentials.password, REDIS_SENTINEL_PASSWORD: credentials.sentinelPassword };
    const { roomId, alice, bob } = await twoInstancesChatting(both, 'before', apps);

    // The new master is found through sentinels that ask for their password, and answers to the data password.
    await topology.failover();
    const after = await waitFor(async () => {
      const answer = await ask(alice, { type: 'send_message', room_id: roomId, content: 'after', client_msg_id: 'after-failover' });
      return answer.type === 'message_ack' ? answer : undefined;
    }, 20_000, 'a send acknowledged after the failover');
    expect(after).toMatchObject({ message: { content: 'after', seq: 2 } });
    expect(await bob.next('message')).toMatchObject({ message: { content: 'after', seq: 2 } });
    await Promise.all([alice.close(), bob.close()]);

    const without = await startInstance({ ...env, REDIS_PASSWORD: credentials.password });
    apps.push(without);
    expect(await readiness(without.http)).toMatchObject({ status: 503 });
  }, 60_000);
});
