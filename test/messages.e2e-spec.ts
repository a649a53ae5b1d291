import request from 'supertest';
import { collect, join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { messageShape } from './support/shapes.js';
import { token } from './support/tokens.js';
import type { Frame, TestClient } from './support/ws-client.js';

/** A room id of the right shape that no room has. */
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

describe.each(['compiled', 'class-validator'])('messages (PROTOCOL §2 "Messages", §3), %s validator', (validator) => {
  const chat = useInstances({ env: { RATE_LIMIT_PER_SECOND: 1000, RATE_LIMIT_BURST: 1000, FRAME_VALIDATOR: validator } });
  let roomId: string;
  let alice: TestClient;
  let aliceTab: TestClient;
  let bob: TestClient;

  beforeEach(async () => {
    roomId = await chat.room('alice', ['bob', 'carol']);
    [alice, aliceTab, bob] = await Promise.all([chat.connect('alice'), chat.connect('alice'), chat.connect('bob')]);
    for (const client of [alice, aliceTab, bob]) await join(client, roomId);
  });

  it('acks the sender and sends the message to every joined connection, the sender’s own included', async () => {
    const idle = await chat.connect('carol');
    alice.send({ type: 'send_message', room_id: roomId, content: 'hello', client_msg_id: 'c-1', ref: 'r1' });
    const ack = await alice.next('message_ack');
    const message = messageShape({ room_id: roomId, sender_id: 'alice', seq: 1, content: 'hello', client_msg_id: 'c-1' });
    expect(ack).toEqual({ type: 'message_ack', client_msg_id: 'c-1', message, ref: 'r1' });
    for (const client of [alice, aliceTab, bob]) {
      expect(await client.next('message')).toEqual({ type: 'message', message: ack.message });
    }
    expect(ack.message).toMatchObject({ created_at: (ack.message as Frame).updated_at });
    await Promise.all([idle.nothing(200), bob.nothing(0, 'message_ack'), aliceTab.nothing(0, 'message_ack')]);
  });

  it('carries every Message field of §3, with client_msg_id null when none was given', async () => {
    bob.send({ type: 'send_message', room_id: roomId, content: 'no id', message_type: 'text' });
    const ack = await bob.next('message_ack');
    expect(ack).toEqual({
      type: 'message_ack',
      client_msg_id: null,
      message: messageShape({ room_id: roomId, sender_id: 'bob', seq: 1, content: 'no id' }),
    });
    expect(Object.keys(ack.message as object).sort()).toEqual(Object.keys(messageShape({})).sort());
    expect((await alice.next('message')).message).toEqual(ack.message);
  });

  it('numbers messages 1, 2, 3 … without gaps, in the same order for every receiver, under concurrent senders', async () => {
    const bobTab = await chat.connect('bob');
    await join(bobTab, roomId);
    const senders = [alice, bob, bobTab];
    senders.forEach((sender, s) => {
      for (let i = 0; i < 30; i++) sender.send({ type: 'send_message', room_id: roomId, content: `${s}:${i}` });
    });
    const receivers = [alice, aliceTab, bob, bobTab];
    const streams = await Promise.all(receivers.map((client) => collect(client, 'message', 90)));
    const expected = Array.from({ length: 90 }, (_, i) => i + 1);
    for (const stream of streams) {
      const messages = stream.map((frame) => frame.message as { seq: number; content: string });
      expect(messages.map((m) => m.seq)).toEqual(expected);
      expect(messages.map((m) => m.content)).toEqual(streams[0].map((frame) => (frame.message as { content: string }).content));
      for (let s = 0; s < senders.length; s++) {
        const own = messages.filter((m) => m.content.startsWith(`${s}:`)).map((m) => Number(m.content.split(':')[1]));
        expect(own).toEqual(Array.from({ length: 30 }, (_, i) => i));
      }
    }
    for (const sender of senders) expect(await collect(sender, 'message_ack', 30)).toHaveLength(30);
    await Promise.all(receivers.map((client) => client.nothing(100, 'message')));
  });

  it('accepts content of exactly 4000 characters and refuses 4001 with content_too_long', async () => {
    alice.send({ type: 'send_message', room_id: roomId, content: 'x'.repeat(4000) });
    expect(await alice.next('message_ack')).toMatchObject({ message: { content: 'x'.repeat(4000), seq: 1 } });
    expect(await bob.next('message')).toMatchObject({ message: { seq: 1 } });
    alice.send({ type: 'send_message', room_id: roomId, content: '😀'.repeat(2000) });
    expect(await bob.next('message')).toMatchObject({ message: { seq: 2, content: '😀'.repeat(2000) } });
    for (const content of ['x'.repeat(4001), '😀'.repeat(2000) + 'x']) {
      alice.send({ type: 'send_message', room_id: roomId, content, ref: 'long' });
      expect(await alice.next('error')).toEqual({
        type: 'error',
        code: 'content_too_long',
        message: expect.any(String),
        room_id: roomId,
        ref: 'long',
      });
    }
    await bob.nothing(200, 'message');
    alice.send({ type: 'send_message', room_id: roomId, content: 'next' });
    expect(await bob.next('message')).toMatchObject({ message: { seq: 3 } });
  });

  it('answers a repeated client_msg_id with the original message and does not broadcast it again', async () => {
    alice.send({ type: 'send_message', room_id: roomId, content: 'first', client_msg_id: 'dup' });
    const original = await alice.next('message_ack');
    for (const client of [alice, aliceTab, bob]) await client.next('message');
    aliceTab.send({ type: 'send_message', room_id: roomId, content: 'retry', client_msg_id: 'dup', ref: 'again' });
    expect(await aliceTab.next('message_ack')).toEqual({ ...original, ref: 'again' });
    await request(chat.http)
      .post(`/api/v1/chats/rooms/${roomId}/messages`)
      .set('Authorization', `Bearer ${token('alice')}`)
      .send({ content: 'rest retry', client_msg_id: 'dup' })
      .expect((response) => expect(response.body).toEqual(original.message));
    await Promise.all([bob.nothing(250, 'message'), alice.nothing(0, 'message'), aliceTab.nothing(0, 'message')]);
    alice.send({ type: 'send_message', room_id: roomId, content: 'second', client_msg_id: 'other' });
    expect(await bob.next('message')).toMatchObject({ message: { seq: 2, content: 'second' } });
  });

  it('treats the same client_msg_id from another user, or in another room, as a new message', async () => {
    alice.send({ type: 'send_message', room_id: roomId, content: 'from alice', client_msg_id: 'same' });
    await alice.next('message_ack');
    bob.send({ type: 'send_message', room_id: roomId, content: 'from bob', client_msg_id: 'same' });
    const ack = await bob.next('message_ack');
    expect(ack).toMatchObject({ client_msg_id: 'same', message: { seq: 2, sender_id: 'bob', content: 'from bob' } });
    const contents = (await collect(aliceTab, 'message', 2)).map((frame) => (frame.message as { content: string }).content);
    expect(contents).toEqual(['from alice', 'from bob']);
    const otherRoom = await chat.room('alice', []);
    await join(alice, otherRoom);
    alice.send({ type: 'send_message', room_id: otherRoom, content: 'elsewhere', client_msg_id: 'same' });
    expect(await alice.next('message_ack')).toMatchObject({ message: { room_id: otherRoom, seq: 1, content: 'elsewhere' } });
  });

  describe('POST /api/v1/chats/rooms/:room_id/messages', () => {
    const post = (id: string, user: string, body: object) =>
      request(chat.http)
        .post(`/api/v1/chats/rooms/${id}/messages`)
        .set('Authorization', `Bearer ${token(user)}`)
        .send(body);

    it('answers 201 with the Message and broadcasts it as over the socket', async () => {
      const response = await post(roomId, 'bob', { content: 'via rest', client_msg_id: 'rest-1' }).expect(201);
      const message = messageShape({ room_id: roomId, sender_id: 'bob', seq: 1, content: 'via rest', client_msg_id: 'rest-1' });
      expect(response.body).toEqual(message);
      for (const client of [alice, aliceTab, bob]) {
        expect(await client.next('message')).toEqual({ type: 'message', message: response.body });
      }
      alice.send({ type: 'send_message', room_id: roomId, content: 'via socket' });
      expect(await bob.next('message')).toMatchObject({ message: { seq: 2 } });
    });

    it('refuses non-members with 403, unknown rooms with 404 and bad bodies with 400 naming the field', async () => {
      const forbidden = await post(roomId, 'mallory', { content: 'let me in' }).expect(403);
      expect(forbidden.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.any(String) });
      const unknown = await post(UNKNOWN_ROOM, 'alice', { content: 'hello?' }).expect(404);
      expect(unknown.body).toEqual({ statusCode: 404, error: 'Not Found', message: expect.any(String) });
      for (const body of [{}, { content: 5 }, { content: '' }, { content: 'x'.repeat(4001) }]) {
        const bad = await post(roomId, 'alice', body).expect(400);
        expect(bad.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringContaining('content') });
      }
      const badType = await post(roomId, 'alice', { content: 'x', message_type: 'video' }).expect(400);
      expect(badType.body.message).toContain('message_type');
      await request(chat.http).post(`/api/v1/chats/rooms/${roomId}/messages`).send({ content: 'anon' }).expect(401);
      await bob.nothing(200, 'message');
    });
  });
});
