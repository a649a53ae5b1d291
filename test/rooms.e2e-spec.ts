import request from 'supertest';
import { expectServed, join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { token } from './support/tokens.js';

/** A room id of the right shape that no room has. */
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

describe('rooms and presence (PROTOCOL §2 "Membership", "Presence")', () => {
  const chat = useInstances();

  it('answers a join by a non-member with not_a_member and room_id, and keeps the connection open', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const own = await chat.room('mallory', []);
    const mallory = await chat.connect('mallory');
    mallory.send({ type: 'join_room', room_id: roomId });
    expect(await mallory.next('error')).toEqual({
      type: 'error',
      code: 'not_a_member',
      message: expect.any(String),
      room_id: roomId,
    });
    await expectServed(mallory);
    expect(await join(mallory, own)).toMatchObject({ online: ['mallory'] });
  });

  it('answers a join of an unknown room with not_a_member', async () => {
    const client = await chat.connect('alice');
    client.send({ type: 'join_room', room_id: UNKNOWN_ROOM });
    expect(await client.next('error')).toMatchObject({ code: 'not_a_member', room_id: UNKNOWN_ROOM });
    await expectServed(client);
  });

  it('answers joined with room_id, seq, epoch, recovered, online (the joiner included) and typing', async () => {
    const roomId = await chat.room('alice', ['bob', 'carol']);
    const alice = await chat.connect('alice');
    const first = await join(alice, roomId);
    expect(first).toEqual({
      type: 'joined',
      room_id: roomId,
      seq: 0,
      epoch: expect.stringMatching(/.+/),
      recovered: false,
      online: ['alice'],
      typing: [],
    });
    alice.send({ type: 'send_message', room_id: roomId, content: 'one' });
    alice.send({ type: 'send_message', room_id: roomId, content: 'two' });
    alice.send({ type: 'typing', room_id: roomId });
    await alice.next('message_ack');
    await alice.next('message_ack');
    const bob = await chat.connect('bob');
    const second = await join(bob, roomId);
    expect(second).toMatchObject({ room_id: roomId, seq: 2, epoch: first.epoch, recovered: false, typing: ['alice'] });
    expect([...(second.online as string[])].sort()).toEqual(['alice', 'bob']);
  });

  it('sends no old messages on a plain join', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const alice = await chat.connect('alice');
    await join(alice, roomId);
    for (const content of ['a', 'b', 'c']) alice.send({ type: 'send_message', room_id: roomId, content });
    for (let i = 0; i < 3; i++) await alice.next('message_ack');
    const bob = await chat.connect('bob');
    expect(await join(bob, roomId)).toMatchObject({ seq: 3 });
    await bob.nothing(250, 'message');
  });

  it('answers leave_room with left, after which the room sends nothing to that connection', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const alice = await chat.connect('alice');
    const bob = await chat.connect('bob');
    await join(alice, roomId);
    await join(bob, roomId);
    bob.send({ type: 'leave_room', room_id: roomId });
    expect(await bob.next('left')).toEqual({ type: 'left', room_id: roomId });
    alice.send({ type: 'typing', room_id: roomId });
    alice.send({ type: 'send_message', room_id: roomId, content: 'after' });
    await alice.next('message');
    await bob.nothing(250);
  });

  it('refuses typing and send_message in a room not joined with not_joined', async () => {
    const roomId = await chat.room('alice', []);
    const alice = await chat.connect('alice');
    for (const frame of [
      { type: 'typing', room_id: roomId },
      { type: 'typing', room_id: roomId, is_typing: false },
      { type: 'send_message', room_id: roomId, content: 'hi' },
      { type: 'send_message', room_id: UNKNOWN_ROOM, content: 'hi' },
    ]) {
      alice.send(frame);
      expect(await alice.next('error')).toEqual({
        type: 'error',
        code: 'not_joined',
        message: expect.any(String),
        room_id: frame.room_id,
      });
    }
    await join(alice, roomId);
    alice.send({ type: 'leave_room', room_id: roomId });
    await alice.next('left');
    alice.send({ type: 'send_message', room_id: roomId, content: 'hi' });
    expect(await alice.next('error')).toMatchObject({ code: 'not_joined', room_id: roomId });
  });

  it('sends nothing of a room to connections that have not joined it, the same user’s included', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const alice = await chat.connect('alice');
    const aliceIdle = await chat.connect('alice');
    const bobIdle = await chat.connect('bob');
    await join(alice, roomId);
    const bob = await chat.connect('bob');
    await join(bob, roomId);
    await alice.next('presence');
    bob.send({ type: 'typing', room_id: roomId });
    await alice.next('typing');
    bob.send({ type: 'send_message', room_id: roomId, content: 'hello' });
    await alice.next('message');
    bob.send({ type: 'leave_room', room_id: roomId });
    await alice.next('presence');
    await Promise.all([aliceIdle.nothing(250), bobIdle.nothing(0)]);
  });

  describe('with MAX_ROOMS_PER_CONNECTION=2', () => {
    const limited = useInstances({ env: { MAX_ROOMS_PER_CONNECTION: 2 } });

    it('refuses a third room on one connection with too_many_rooms, not on another connection', async () => {
      const rooms = await Promise.all([1, 2, 3].map(() => limited.room('alice', [])));
      const alice = await limited.connect('alice');
      await join(alice, rooms[0]);
      await join(alice, rooms[1]);
      alice.send({ type: 'join_room', room_id: rooms[2] });
      expect(await alice.next('error')).toEqual({
        type: 'error',
        code: 'too_many_rooms',
        message: expect.any(String),
        room_id: rooms[2],
      });
      await expectServed(alice);
      await join(alice, rooms[0]);
      alice.send({ type: 'leave_room', room_id: rooms[1] });
      await alice.next('left');
      await join(alice, rooms[2]);
      const other = await limited.connect('alice');
      await join(other, rooms[1]);
      await join(other, rooms[2]);
    });
  });

  describe('presence', () => {
    it('goes out when a user’s first connection joins, not for a second tab, and offline after the last leaves', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const alice = await chat.connect('alice');
      await join(alice, roomId);
      const bob1 = await chat.connect('bob');
      await join(bob1, roomId);
      expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'online' });
      const bob2 = await chat.connect('bob');
      expect([...((await join(bob2, roomId)).online as string[])].sort()).toEqual(['alice', 'bob']);
      await alice.nothing(200, 'presence');
      bob1.send({ type: 'leave_room', room_id: roomId });
      await bob1.next('left');
      await alice.nothing(200, 'presence');
      bob2.send({ type: 'leave_room', room_id: roomId });
      await bob2.next('left');
      expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'offline' });
      await alice.nothing(200, 'presence');
    });

    it('goes offline only when the last connection disconnects', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const alice = await chat.connect('alice');
      await join(alice, roomId);
      const bob1 = await chat.connect('bob');
      const bob2 = await chat.connect('bob');
      await join(bob1, roomId);
      await join(bob2, roomId);
      expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'online' });
      await bob1.close();
      await alice.nothing(200, 'presence');
      await bob2.close();
      expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'offline' });
      const aliceAgain = await chat.connect('alice');
      expect(await join(aliceAgain, roomId)).toMatchObject({ online: ['alice'] });
    });
  });

  it('makes a member removed over REST leave on every connection at once', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const alice = await chat.connect('alice');
    const bob1 = await chat.connect('bob');
    const bob2 = await chat.connect('bob');
    await join(alice, roomId);
    await join(bob1, roomId);
    await join(bob2, roomId);
    bob1.send({ type: 'typing', room_id: roomId });
    await alice.next('typing');
    await request(chat.http)
      .delete(`/api/v1/chats/rooms/${roomId}/members/bob`)
      .set('Authorization', `Bearer ${token('alice')}`)
      .expect(204);
    for (const bob of [bob1, bob2]) expect(await bob.next('left')).toMatchObject({ type: 'left', room_id: roomId });
    expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'online' });
    expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'offline' });
    expect(await alice.next('typing_stopped')).toEqual({ type: 'typing_stopped', room_id: roomId, user_id: 'bob' });
    alice.send({ type: 'send_message', room_id: roomId, content: 'without bob' });
    await alice.next('message');
    await Promise.all([bob1.nothing(250, 'message'), bob2.nothing(0, 'message')]);
    bob1.send({ type: 'send_message', room_id: roomId, content: 'still here?' });
    expect(await bob1.next('error')).toMatchObject({ code: 'not_joined', room_id: roomId });
    bob1.send({ type: 'join_room', room_id: roomId });
    expect(await bob1.next('error')).toMatchObject({ code: 'not_a_member', room_id: roomId });
  });
});
