import request from 'supertest';
import { type Mode, useInstances } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe.each<Mode>(['redis', 'cluster'])('two users on different instances sharing one Redis (%s)', (mode) => {
  const instances = useInstances({ mode, count: 2 });

  it('users on different instances chat, type and see each other', async () => {
    const roomId = await createRoom(instances.first.http, 'alice', ['bob']);
    const alice = await TestClient.connect(instances.first.ws, token('alice'));
    const bob = await TestClient.connect(instances.last.ws, token('bob'));
    alice.send({ type: 'join_room', room_id: roomId });
    await alice.next('joined');
    bob.send({ type: 'join_room', room_id: roomId });
    expect(await bob.next('joined')).toMatchObject({ online: expect.arrayContaining(['alice', 'bob']) });
    expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'online' });
    bob.send({ type: 'typing', room_id: roomId });
    expect(await alice.next('typing')).toMatchObject({ user_id: 'bob' });
    alice.send({ type: 'send_message', room_id: roomId, content: 'from a' });
    bob.send({ type: 'send_message', room_id: roomId, content: 'from b' });
    const seen = [await alice.next('message'), await alice.next('message')].map((f) => (f.message as { seq: number }).seq);
    const seenB = [await bob.next('message'), await bob.next('message')].map((f) => (f.message as { seq: number }).seq);
    expect(seen).toEqual([1, 2]);
    expect(seenB).toEqual([1, 2]);
    await bob.close();
    expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'offline' });
    await alice.close();
  });

  it('lists a user’s rooms, most recently joined first, from any instance', async () => {
    const first = await createRoom(instances.first.http, 'dora', ['erin']);
    const second = await createRoom(instances.last.http, 'erin', ['dora']);
    const third = await createRoom(instances.first.http, 'frank', []);
    await request(instances.last.http).post(`/api/v1/chats/rooms/${third}/members`).set('Authorization', `Bearer ${token('frank')}`).send({ user_id: 'dora' }).expect(201);
    const listed = await request(instances.last.http).get('/api/v1/chats/rooms').set('Authorization', `Bearer ${token('dora')}`).expect(200);
    expect(listed.body.total).toBe(3);
    expect(listed.body.rooms.map((room: { room_id: string }) => room.room_id)).toEqual([third, second, first]);
    expect([...listed.body.rooms[0].member_ids].sort()).toEqual(['dora', 'frank']);
  });
});
