import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { waitFor } from '../scripts/processes.mjs';
import { InstanceState } from '../src/instance/instance-state.js';
import { ask, collect, join, nextMessages, seqs } from './support/client.js';
import { type Mode, useInstances } from './support/instances.js';
import { sharedCluster } from './support/redis-cluster.js';
import { createRoom } from './support/rest.js';
import { backendMessage } from './support/shapes.js';
import { token } from './support/tokens.js';
import { type Frame, TestClient } from './support/ws-client.js';

const THROTTLE_MS = 400;
const TTL_MS = 1000;
const CONTENT_TYPES = new Set(['message', 'message_updated', 'message_deleted', 'error']);

describe.each<Mode>(['redis', 'cluster'])('several instances on one Redis (PROTOCOL §2 across instances, §6) (%s)', (mode) => {
  const cluster = useInstances({ mode, count: 3, env: { TYPING_THROTTLE_MS: THROTTLE_MS, TYPING_TTL_MS: TTL_MS } });
  const [A, B, C] = [0, 1, 2];
  const http = (index: number) => cluster.all[index].http;
  const room = (owner: string, members: string[]) => createRoom(http(A), owner, members);
  const joinAll = async (roomId: string, ...clients: TestClient[]) => {
    for (const client of clients) await join(client, roomId);
  };
  const restSend = (index: number, user: string, roomId: string, content: string) =>
    request(http(index))
      .post(`/api/v1/chats/rooms/${roomId}/messages`)
      .set('Authorization', `Bearer ${token(user)}`)
      .send({ content });

  it('gives every connection on every instance one seq order under concurrent senders', async () => {
    const roomId = await room('alice', ['bob', 'carol', 'dave', 'erin']);
    const senders = await Promise.all([cluster.connect('alice', A), cluster.connect('bob', B), cluster.connect('carol', C)]);
    const watchers = await Promise.all([cluster.connect('erin', C), cluster.connect('erin', A), cluster.connect('erin', B)]);
    await joinAll(roomId, ...senders, ...watchers);
    const perSender = 12;
    const restSends = Array.from({ length: 5 }, (_, i) => restSend(i % 3, 'dave', roomId, `rest ${i}`).then((r) => r.status));
    for (let i = 0; i < perSender; i++) {
      for (const sender of senders) sender.send({ type: 'send_message', room_id: roomId, content: `ws ${i}` });
    }
    expect(await Promise.all(restSends)).toEqual(restSends.map(() => 201));
    const total = perSender * senders.length + restSends.length;
    const seen = await Promise.all([...senders, ...watchers].map((client) => nextMessages(client, total, 10_000)));
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    const ids = seen[0].map((message) => message.message_id);
    for (const messages of seen) {
      expect(seqs(messages)).toEqual(expected);
      expect(messages.map((message) => message.message_id)).toEqual(ids);
    }
    for (const sender of senders) {
      const acks = await collect(sender, 'message_ack', perSender);
      expect(acks.every((ack) => ids.includes((ack.message as { message_id: string }).message_id))).toBe(true);
    }
    await Promise.all([...senders, ...watchers].map((client) => client.nothing(200, 'message')));
  });

  describe('typing', () => {
    let roomId: string;
    let alice: TestClient;
    let aliceTab: TestClient;
    let bob: TestClient;
    let carol: TestClient;
    const typing = (user = 'alice') => ({ type: 'typing', room_id: roomId, user_id: user, is_typing: true });
    const stopped = (user = 'alice') => ({ type: 'typing_stopped', room_id: roomId, user_id: user });

    beforeEach(async () => {
      roomId = await room('alice', ['bob', 'carol', 'dave']);
      [alice, aliceTab, bob, carol] = await Promise.all([
        cluster.connect('alice', A),
        cluster.connect('alice', B),
        cluster.connect('bob', B),
        cluster.connect('carol', C),
      ]);
      await joinAll(roomId, alice, aliceTab, bob, carol);
    });

    it('reaches the other connections on every instance, the same user’s other tab included, never the sender', async () => {
      alice.send({ type: 'typing', room_id: roomId });
      expect(await bob.next('typing')).toEqual(typing());
      expect(await carol.next('typing')).toEqual(typing());
      expect(await aliceTab.next('typing')).toEqual(typing());
      alice.send({ type: 'typing', room_id: roomId, is_typing: false });
      for (const client of [bob, carol, aliceTab]) expect(await client.next('typing_stopped')).toEqual(stopped());
      carol.send({ type: 'typing', room_id: roomId });
      for (const client of [alice, aliceTab, bob]) expect(await client.next('typing')).toEqual(typing('carol'));
      await Promise.all([alice.nothing(200, 'typing'), carol.nothing(0, 'typing'), alice.nothing(0, 'typing_stopped')]);
    });

    it('throttles one user’s starts on two instances to one broadcast per window, and broadcasts again in the next', async () => {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 3; i++) {
          alice.send({ type: 'typing', room_id: roomId });
          aliceTab.send({ type: 'typing', room_id: roomId });
        }
        expect(await bob.next('typing')).toEqual(typing());
        expect(await carol.next('typing')).toEqual(typing());
        await Promise.all([bob.nothing(THROTTLE_MS + 50, 'typing'), carol.nothing(0, 'typing')]);
        expect([...alice.take('typing'), ...aliceTab.take('typing')]).toEqual([typing()]);
        aliceTab.send({ type: 'typing', room_id: roomId });
        for (const client of [bob, carol, alice]) expect(await client.next('typing')).toEqual(typing());
        await Promise.all([bob.nothing(100, 'typing'), aliceTab.nothing(0, 'typing')]);
        expect([...bob.take('typing_stopped'), ...carol.take('typing_stopped')]).toEqual([]);
        alice.send({ type: 'typing', room_id: roomId, is_typing: false });
        for (const client of [bob, carol]) expect(await client.next('typing_stopped')).toEqual(stopped());
        await bob.nothing(50, 'typing_stopped');
        alice.take('typing_stopped');
        aliceTab.take('typing_stopped');
      }
    });

    it('is ended by a message the user sends from another instance, once, to where the start went', async () => {
      alice.send({ type: 'typing', room_id: roomId });
      for (const client of [bob, carol, aliceTab]) expect(await client.next('typing')).toEqual(typing());
      aliceTab.send({ type: 'send_message', room_id: roomId, content: 'hi' });
      for (const client of [bob, carol, aliceTab]) expect(await client.next('typing_stopped')).toEqual(stopped());
      aliceTab.send({ type: 'send_message', room_id: roomId, content: 'again' });
      await Promise.all([bob.next('message'), bob.next('message')]);
      await Promise.all([bob.nothing(200, 'typing_stopped'), carol.nothing(0, 'typing_stopped'), alice.nothing(0, 'typing_stopped')]);
    });

    it('expires by itself TTL after the latest start, whichever instance took it, once', async () => {
      alice.send({ type: 'typing', room_id: roomId });
      await bob.next('typing');
      await bob.nothing(THROTTLE_MS + 50, 'typing_stopped');
      const restartedAt = Date.now();
      aliceTab.send({ type: 'typing', room_id: roomId });
      await Promise.all([bob.next('typing'), carol.next('typing')]);
      expect(await bob.next('typing_stopped', TTL_MS + 2000)).toEqual(stopped());
      expect(Date.now() - restartedAt).toBeGreaterThanOrEqual(TTL_MS - 50);
      expect(await carol.next('typing_stopped')).toEqual(stopped());
      await Promise.all([bob.nothing(400, 'typing_stopped'), carol.nothing(0, 'typing_stopped')]);
      const dave = await cluster.connect('dave', C);
      expect(await join(dave, roomId)).toMatchObject({ typing: [] });
    });
  });

  it('keeps a user with tabs on two instances online until both are gone', async () => {
    const roomId = await room('alice', ['bob', 'carol']);
    const bob = await cluster.connect('bob', C);
    await join(bob, roomId);
    const alice = await cluster.connect('alice', A);
    await join(alice, roomId);
    expect(await bob.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'alice', status: 'online' });
    const aliceTab = await cluster.connect('alice', B);
    expect(await join(aliceTab, roomId)).toMatchObject({ online: expect.arrayContaining(['alice', 'bob']) });
    await bob.nothing(300, 'presence');
    await alice.close();
    await bob.nothing(500, 'presence');
    const carol = await cluster.connect('carol', C);
    expect(await join(carol, roomId)).toMatchObject({ online: expect.arrayContaining(['alice', 'bob', 'carol']) });
    expect(await bob.next('presence')).toMatchObject({ user_id: 'carol', status: 'online' });
    await aliceTab.close();
    expect(await bob.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'alice', status: 'offline' });
    expect(await carol.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'alice', status: 'offline' });
    await bob.nothing(300, 'presence');
  });

  it('makes a member removed over REST on one instance leave the room on every instance', async () => {
    const roomId = await room('alice', ['bob']);
    const [alice, bob, bobTab] = await Promise.all([cluster.connect('alice', A), cluster.connect('bob', B), cluster.connect('bob', C)]);
    await joinAll(roomId, alice, bob, bobTab);
    expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'online' });
    await request(http(A))
      .delete(`/api/v1/chats/rooms/${roomId}/members/bob`)
      .set('Authorization', `Bearer ${token('alice')}`)
      .expect(204);
    for (const client of [bob, bobTab]) expect(await client.next('left')).toMatchObject({ type: 'left', room_id: roomId });
    expect(await alice.next('presence', 5000)).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'offline' });
    alice.send({ type: 'send_message', room_id: roomId, content: 'bob is gone' });
    expect(await alice.next('message')).toMatchObject({ message: { seq: 1, content: 'bob is gone' } });
    await Promise.all([bob.nothing(300), bobTab.nothing(0)]);
    expect(await ask(bob, { type: 'typing', room_id: roomId })).toMatchObject({ type: 'error', code: 'not_joined' });
    expect(await ask(bobTab, { type: 'join_room', room_id: roomId })).toMatchObject({ type: 'error', code: 'not_a_member' });
  });

  it('never keeps in the room a connection that closes right after sending join_room', async () => {
    const ghosts = Array.from({ length: 30 }, (_, i) => `ghost-${i}`);
    const roomId = await createRoom(http(A), 'host', [...ghosts, 'newcomer']);
    for (const ghost of ghosts) {
      const client = await TestClient.connect(cluster.all[A].ws, token(ghost));
      client.send({ type: 'join_room', room_id: roomId });
      client.socket.terminate();
      await client.closed;
    }
    await waitFor(async () => cluster.all[A].app.get(InstanceState).connections === 0, 5000, 'every ghost connection gone from A');

    const newcomer = await cluster.connect('newcomer', B);
    const joined = await join(newcomer, roomId);
    expect(joined.online).toEqual(['newcomer']);
    for (const index of [A, B]) await request(http(index)).get('/health/ready').expect(200);
  });

  describe('events the existing backend publishes on chat:room:<id> (§6)', () => {
    let publisher: Redis;
    // On a cluster the backend's classic PUBLISH goes to any one node and reaches every node.
    beforeAll(async () => {
      publisher = mode === 'cluster' ? (await sharedCluster.get()).connect((await sharedCluster.get()).ports[0]) : new Redis(cluster.redisUrl);
    });
    afterAll(() => publisher.quit());

    /** Publishes as the backend does; the count of subscribers it reached, which on a cluster only counts the node it went to. */
    const publish = async (roomId: string, payload: unknown) => {
      const reached = await publisher.publish(`${cluster.prefix}chat:room:${roomId}`, typeof payload === 'string' ? payload : JSON.stringify(payload));
      return mode === 'cluster' ? 'any' : reached;
    };
    const subscribers = (count: number) => (mode === 'cluster' ? 'any' : count);
    const contentFrames = (client: TestClient, from: number): Frame[] =>
      client.frames.slice(from).filter((frame) => CONTENT_TYPES.has(frame.type));

    it('delivers message, message_updated and message_deleted to the room’s sockets on every instance', async () => {
      const roomId = await room('alice', ['bob', 'carol']);
      const clients = await Promise.all([cluster.connect('alice', A), cluster.connect('bob', B), cluster.connect('carol', C)]);
      await joinAll(roomId, ...clients);
      const data = backendMessage(roomId, 'from the backend');
      expect(await publish(roomId, { type: 'message', data })).toBe(subscribers(3));
      for (const client of clients) expect(await client.next('message')).toEqual({ type: 'message', message: data });
      const edited = { ...data, content: 'edited by the backend', is_edited: true };
      await publish(roomId, { type: 'message_updated', data: edited });
      for (const client of clients) expect(await client.next('message_updated')).toEqual({ type: 'message_updated', message: edited });
      await publish(roomId, { type: 'message_deleted', data: { room_id: roomId, message_id: data.message_id } });
      for (const client of clients) {
        expect(await client.next('message_deleted')).toEqual({ type: 'message_deleted', room_id: roomId, message_id: data.message_id });
      }
    });

    it('drops malformed payloads and keeps delivering', async () => {
      const roomId = await room('alice', ['bob', 'carol']);
      const clients = await Promise.all([cluster.connect('alice', A), cluster.connect('bob', B), cluster.connect('carol', C)]);
      await joinAll(roomId, ...clients);
      const marks = clients.map((client) => client.frames.length);
      const bad = [
        'not json',
        'null',
        '[]',
        '"message"',
        { type: 'message' },
        { type: 'message', data: 'text' },
        { type: 'message', data: { content: 'no ids' } },
        { type: 'message_updated', data: { room_id: roomId } },
        { type: 'message_deleted', data: { message_id: randomUUID() } },
        { type: 'unknown_event', data: backendMessage(roomId, 'unknown type') },
        { data: backendMessage(roomId, 'no type') },
      ];
      for (const payload of bad) await publish(roomId, payload);
      const good = backendMessage(roomId, 'still delivered');
      await publish(roomId, { type: 'message', data: good });
      for (const [i, client] of clients.entries()) {
        expect(await client.next('message')).toEqual({ type: 'message', message: good });
        expect(contentFrames(client, marks[i])).toEqual([{ type: 'message', message: good }]);
      }
      clients[1].send({ type: 'send_message', room_id: roomId, content: 'ours' });
      for (const client of clients) expect(await client.next('message')).toMatchObject({ message: { seq: 1, content: 'ours' } });
      for (const instance of [A, B, C]) await request(http(instance)).get('/health/ready').expect(200);
    });

    it('delivers a backend message that carries a seq of its own without it (no seq of ours), and the service’s own messages after it', async () => {
      const roomId = await createRoom(http(A), 'alice', ['bob']);
      const clients = await Promise.all([cluster.connect('alice', A), cluster.connect('alice', B), cluster.connect('bob', B)]);
      for (const client of clients) await join(client, roomId);
      const data = backendMessage(roomId, 'from backend', { message_id: 'm-x', sender_id: 'backend', seq: 500 });
      expect(await publish(roomId, { type: 'message', data })).toBe(subscribers(2));
      const { seq: _theirs, ...withoutSeq } = data;
      for (const client of clients) expect(await client.next('message')).toEqual({ type: 'message', message: withoutSeq });

      for (const content of ['ours 1', 'ours 2']) {
        expect(await ask(clients[0], { type: 'send_message', room_id: roomId, content })).toMatchObject({ type: 'message_ack' });
      }
      for (const client of clients) expect(seqs(await nextMessages(client, 2))).toEqual([1, 2]);
    });
  });
});
