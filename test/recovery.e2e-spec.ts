import { Redis } from 'ioredis';
import request from 'supertest';
import { waitFor } from '../scripts/processes.mjs';
import { RedisService } from '../src/redis/redis.service.js';
import { join, messagesUntil, range, received, sendMany, seqs } from './support/client.js';
import { type Instance, MODES, startInstance, UNTHROTTLED, useInstances } from './support/instances.js';
import { killSubscriber, redisUrl, subscriberId } from './support/redis.js';
import { createRoom, fullHistory, post } from './support/rest.js';
import type { Message } from './support/shapes.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

type Since = { seq: number; epoch: string };

const firstIndex = (client: TestClient, type: string) => client.frames.findIndex((frame) => frame.type === type);

describe.each(MODES)('join_room with since, PROTOCOL §2 "Recovery" (%s)', (mode) => {
  const chat = useInstances({ mode, env: UNTHROTTLED });
  const trimmed = useInstances({ mode, env: { ...UNTHROTTLED, HISTORY_MAX_PER_ROOM: 8 }, count: 1 });
  const bounded = useInstances({ mode, env: { ...UNTHROTTLED, RECOVERY_MAX_MESSAGES: 5 }, count: 1 });

  it('sends joined, then every later message once and in order, then the live stream (on another instance when there is one)', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const bob = await chat.connect('bob');
    const alice = await chat.connect('alice');
    const { epoch } = await join(bob, roomId);
    await join(alice, roomId);
    await sendMany(bob, roomId, 3);
    expect(seqs(await messagesUntil(alice, 3))).toEqual([1, 2, 3]);
    await alice.close();
    const missed = await sendMany(bob, roomId, 4);
    const again = await chat.connect('alice', chat.last);
    expect(await join(again, roomId, { seq: 3, epoch: epoch as string })).toMatchObject({ seq: 7, epoch, recovered: true });
    expect(await messagesUntil(again, 7)).toEqual(missed);
    expect(firstIndex(again, 'joined')).toBeLessThan(firstIndex(again, 'message'));
    const live = await sendMany(bob, roomId, 2);
    expect(await messagesUntil(again, 9)).toEqual(live);
    await again.nothing(200, 'message');
    expect(received(alice).concat(received(again))).toEqual(await fullHistory(chat.first.http, roomId, 'bob'));
  });

  it('recovers a room joined again on the same connection without leaving it, and the user stays online for the others', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const bob = await chat.connect('bob');
    const alice = await chat.connect('alice', chat.last);
    const { epoch } = await join(bob, roomId);
    await join(alice, roomId);
    const sent = await sendMany(bob, roomId, 3);
    expect(await messagesUntil(alice, 3)).toEqual(sent);
    const mark = alice.frames.length;
    const bobMark = bob.frames.length;
    // A client that found a gap after seq 1 asks again from there.
    const again = await join(alice, roomId, { seq: 1, epoch: epoch as string });
    expect(again).toMatchObject({ seq: 3, recovered: true });
    expect((again.online as string[]).sort()).toEqual(['alice', 'bob']);
    const live = await sendMany(bob, roomId, 2);
    const since = () => alice.frames.slice(mark).filter((f) => f.type === 'message').map((f) => f.message as Message);
    await waitFor(() => since().some((m) => m.seq === 5), 5000, 'the live message after the second join');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seqs(since())).toEqual([2, 3, 4, 5]);
    expect(since().slice(-2)).toEqual(live);
    expect(bob.frames.slice(bobMark).filter((f) => f.type === 'presence')).toEqual([]);
  });

  it('answers recovered:true and replays nothing to a client that is up to date', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const bob = await chat.connect('bob');
    const { epoch } = await join(bob, roomId);
    const empty = await chat.connect('alice', chat.last);
    expect(await join(empty, roomId, { seq: 0, epoch: epoch as string })).toMatchObject({ seq: 0, epoch, recovered: true });
    await sendMany(bob, roomId, 2);
    await messagesUntil(empty, 2);
    const current = await chat.connect('alice', chat.last);
    expect(await join(current, roomId, { seq: 2, epoch: epoch as string })).toMatchObject({ seq: 2, recovered: true });
    await current.nothing(200, 'message');
    const [live] = await sendMany(bob, roomId, 1);
    expect((await current.next('message')).message).toEqual(live);
  });

  it('keeps the seam without gap or duplicate while others keep sending, over repeated reconnects', async () => {
    const roomId = await chat.room('alice', ['bob', 'carol']);
    const bob = await chat.connect('bob', chat.first);
    const carol = await chat.connect('carol', chat.last);
    await join(bob, roomId);
    await join(carol, roomId);
    let alice = await chat.connect('alice');
    const since: Since = { seq: 0, epoch: (await join(alice, roomId)).epoch as string };
    const sockets = [alice];
    let running = true;
    const pump = async (client: TestClient, label: string) => {
      const sent: Message[] = [];
      while (running) sent.push(...(await sendMany(client, roomId, 2, label)));
      return sent;
    };
    const pumps = Promise.all([pump(bob, 'b'), pump(carol, 'c')]);
    try {
      for (let round = 0; round < 6; round++) {
        await messagesUntil(alice, since.seq + 3);
        await alice.close();
        since.seq = received(alice).at(-1)?.seq ?? since.seq;
        alice = await chat.connect('alice', chat.all[(round + 1) % chat.all.length]);
        sockets.push(alice);
        expect(await join(alice, roomId, since)).toMatchObject({ epoch: since.epoch, recovered: true });
      }
    } finally {
      running = false;
    }
    const head = Math.max(...seqs((await pumps).flat()));
    const history = await fullHistory(chat.first.http, roomId, 'alice');
    expect(seqs(history)).toEqual(range(1, head));
    for (const client of [alice, bob, carol]) await messagesUntil(client, head);
    await alice.nothing(200, 'message');
    expect(sockets.flatMap(received)).toEqual(history);
    for (const client of [bob, carol]) expect(received(client)).toEqual(history);
  });

  it('answers recovered:false and sends nothing old when the epoch differs', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const bob = await chat.connect('bob');
    const { epoch } = await join(bob, roomId);
    await sendMany(bob, roomId, 3);
    const alice = await chat.connect('alice', chat.last);
    expect(await join(alice, roomId, { seq: 1, epoch: 'an-older-epoch' })).toMatchObject({ seq: 3, epoch, recovered: false });
    await alice.nothing(250, 'message');
    const [live] = await sendMany(bob, roomId, 1);
    expect((await alice.next('message')).message).toEqual(live);
    await alice.nothing(100, 'message');
  });

  it('answers recovered:false once retention dropped a message after since (HISTORY_MAX_PER_ROOM=8)', async () => {
    const roomId = await trimmed.room('alice', ['bob']);
    const bob = await trimmed.connect('bob');
    const epoch = (await join(bob, roomId)).epoch as string;
    const sent = await sendMany(bob, roomId, 12);
    const stale = [await trimmed.connect('alice'), await trimmed.connect('alice')];
    expect(await join(stale[0], roomId, { seq: 0, epoch })).toMatchObject({ seq: 12, epoch, recovered: false });
    expect(await join(stale[1], roomId, { seq: 3, epoch })).toMatchObject({ seq: 12, epoch, recovered: false });
    const reaching = await trimmed.connect('alice');
    expect(await join(reaching, roomId, { seq: 4, epoch })).toMatchObject({ seq: 12, recovered: true });
    expect(await messagesUntil(reaching, 12)).toEqual(sent.slice(4));
    await Promise.all([...stale, reaching].map((client) => client.nothing(250, 'message')));
  });

  it('answers recovered:false beyond RECOVERY_MAX_MESSAGES=5 and replays exactly 5', async () => {
    const roomId = await bounded.room('alice', ['bob']);
    const bob = await bounded.connect('bob');
    const epoch = (await join(bob, roomId)).epoch as string;
    const sent = await sendMany(bob, roomId, 12);
    const over = await bounded.connect('alice');
    expect(await join(over, roomId, { seq: 6, epoch })).toMatchObject({ seq: 12, recovered: false });
    const within = await bounded.connect('alice');
    expect(await join(within, roomId, { seq: 7, epoch })).toMatchObject({ seq: 12, recovered: true });
    expect(await messagesUntil(within, 12)).toEqual(sent.slice(7));
    await Promise.all([over, within].map((client) => client.nothing(250, 'message')));
  });
});

describe('an embedded instance after a restart', () => {
  it('has a new epoch, so a since from before the restart gets recovered:false and nothing old', async () => {
    const before = await startInstance(UNTHROTTLED);
    let old: Since;
    try {
      const roomId = await createRoom(before.http, 'alice', ['bob']);
      const alice = await TestClient.connect(before.ws, token('alice'));
      const { epoch } = await join(alice, roomId);
      await sendMany(alice, roomId, 3);
      await messagesUntil(alice, 3);
      old = { seq: 3, epoch: epoch as string };
    } finally {
      await before.close();
    }
    const after = await startInstance(UNTHROTTLED);
    const clients: TestClient[] = [];
    const connect = async (user: string) => {
      clients.push(await TestClient.connect(after.ws, token(user)));
      return clients[clients.length - 1];
    };
    try {
      const roomId = await createRoom(after.http, 'alice', ['bob']);
      const bob = await connect('bob');
      const { epoch } = await join(bob, roomId);
      const sent = await sendMany(bob, roomId, 5);
      expect(epoch).not.toBe(old.epoch);
      const stale = await connect('alice');
      expect(await join(stale, roomId, old)).toMatchObject({ seq: 5, epoch, recovered: false });
      await stale.nothing(250, 'message');
      const current = await connect('alice');
      expect(await join(current, roomId, { seq: 3, epoch: epoch as string })).toMatchObject({ recovered: true });
      expect(await messagesUntil(current, 5)).toEqual(sent.slice(3));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await after.close();
    }
  });
});

describe('several instances on one Redis', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(await redisUrl());
  });
  afterAll(() => redis.quit());

  const instanceId = (instance: Instance) => instance.app.get(RedisService).instanceId;

  describe('deduplication', () => {
    const chat = useInstances({ mode: 'redis', env: UNTHROTTLED });

    it('makes two concurrent sends with one client_msg_id on two instances one message', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const [a, b, bob] = [await chat.connect('alice', chat.first), await chat.connect('alice', chat.last), await chat.connect('bob')];
      for (const client of [a, b, bob]) await join(client, roomId);
      const ids = range(1, 10).map((i) => `retry-${i}`);
      for (const id of ids) {
        a.send({ type: 'send_message', room_id: roomId, content: `a ${id}`, client_msg_id: id });
        b.send({ type: 'send_message', room_id: roomId, content: `b ${id}`, client_msg_id: id });
      }
      const viaRest = await Promise.all(
        ids.map((id) =>
          Promise.all([chat.first, chat.last].map((app) => post(app.http, roomId, 'alice', app.http, { client_msg_id: `rest-${id}` }))),
        ),
      );
      const acks = async (client: TestClient) => {
        const byId = new Map<string, Message>();
        for (const _ of ids) {
          const ack = await client.next('message_ack');
          byId.set(ack.client_msg_id as string, ack.message as Message);
        }
        return byId;
      };
      const [fromA, fromB] = [await acks(a), await acks(b)];
      for (const id of ids) expect(fromA.get(id)).toEqual(fromB.get(id));
      for (const [one, other] of viaRest) expect(one).toEqual(other);
      const history = await fullHistory(chat.first.http, roomId, 'bob');
      expect(seqs(history)).toEqual(range(1, 20));
      expect(new Set(history.map((m) => m.client_msg_id)).size).toBe(20);
      await messagesUntil(bob, 20);
      await bob.nothing(250, 'message');
      expect(received(bob)).toEqual(history);
    });
  });

  describe.each([
    ['defaults', {}],
    ['RECOVERY_MAX_MESSAGES=5', { RECOVERY_MAX_MESSAGES: 5 }],
  ])('an instance whose subscriber connection is killed (%s)', (_label, overrides) => {
    const chat = useInstances({ mode: 'redis', env: { ...UNTHROTTLED, ...overrides } });

    it('catches up from the store: its clients get every message in order while another instance keeps sending', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol']);
      const [alice, carol, bob] = [await chat.connect('alice'), await chat.connect('carol'), await chat.connect('bob', chat.last)];
      for (const client of [alice, carol, bob]) await join(client, roomId);
      await sendMany(bob, roomId, 3);
      for (const client of [alice, carol]) await messagesUntil(client, 3);
      const killed = await killSubscriber(redis, instanceId(chat.first));
      await sendMany(bob, roomId, 12);
      await sendMany(alice, roomId, 1);
      await messagesUntil(alice, 4);
      expect(await subscriberId(redis, instanceId(chat.first))).not.toBe(killed);
      await sendMany(bob, roomId, 3);
      const history = await fullHistory(chat.first.http, roomId, 'bob');
      expect(seqs(history)).toEqual(range(1, 19));
      for (const client of [alice, carol]) {
        await messagesUntil(client, 19);
        await client.nothing(200, 'message');
        expect(seqs(received(client))).toEqual(range(1, 19));
        expect(received(client)).toEqual(history);
      }
    });
  });

  describe('a removal published while an instance\'s subscriber connection is away', () => {
    const chat = useInstances({ mode: 'redis', env: UNTHROTTLED });

    it('still takes the member out of the room there once it is back: they are told, and may no longer send', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const bob = await chat.connect('bob', chat.first);
      await join(bob, roomId);
      await killSubscriber(redis, instanceId(chat.first));
      await request(chat.last.http).delete(`/api/v1/chats/rooms/${roomId}/members/bob`).set('Authorization', `Bearer ${token('alice')}`).expect(204);
      expect(await bob.next('left', 10_000)).toEqual({ type: 'left', room_id: roomId, reason: 'removed' });
      bob.send({ type: 'send_message', room_id: roomId, content: 'still here?', ref: 'after' });
      expect(await bob.next('error')).toMatchObject({ code: 'not_joined', ref: 'after' });
    });
  });
});
