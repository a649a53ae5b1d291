import { useInstances } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe('two users in one room', () => {
  const running = useInstances();

  it('two users chat in a room', async () => {
    const roomId = await createRoom(running.http, 'alice', ['bob']);
    const alice = await TestClient.connect(running.ws, token('alice'));
    const bob = await TestClient.connect(running.ws, token('bob'));
    alice.send({ type: 'ping', ref: 'p1' });
    expect(await alice.next('pong')).toEqual({ type: 'pong', ref: 'p1' });
    alice.send({ type: 'join_room', room_id: roomId });
    expect(await alice.next('joined')).toMatchObject({ room_id: roomId, seq: 0, online: ['alice'], typing: [] });
    bob.send({ type: 'join_room', room_id: roomId });
    expect(await bob.next('joined')).toMatchObject({ online: ['alice', 'bob'] });
    expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'online' });
    bob.send({ type: 'typing', room_id: roomId });
    expect(await alice.next('typing')).toEqual({ type: 'typing', room_id: roomId, user_id: 'bob', is_typing: true });
    bob.send({ type: 'send_message', room_id: roomId, content: 'hi', client_msg_id: 'c1', ref: 'r' });
    const ack = await bob.next('message_ack');
    expect(ack).toMatchObject({ ref: 'r', client_msg_id: 'c1', message: { seq: 1, content: 'hi', sender_id: 'bob' } });
    expect(await alice.next('typing_stopped')).toMatchObject({ user_id: 'bob' });
    expect(await alice.next('message')).toMatchObject({ message: { seq: 1, content: 'hi' } });
    expect(await bob.next('message')).toMatchObject({ message: { seq: 1 } });
    alice.send({ type: 'nope' });
    expect(await alice.next('error')).toMatchObject({ code: 'unknown_type' });
    alice.send({ type: 'join_room', room_id: 5 });
    expect(await alice.next('error')).toMatchObject({ code: 'invalid_frame', message: expect.stringContaining('room_id') });
    await Promise.all([alice.close(), bob.close()]);
  });
});
