import request from 'supertest';
import { join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { token } from './support/tokens.js';
import type { TestClient } from './support/ws-client.js';

const THROTTLE_MS = 300;
const TTL_MS = 800;

describe('typing (PROTOCOL §2 "Typing")', () => {
  const chat = useInstances({ env: { TYPING_THROTTLE_MS: THROTTLE_MS, TYPING_TTL_MS: TTL_MS } });
  let roomId: string;
  let alice: TestClient;
  let aliceTab: TestClient;
  let bob: TestClient;

  const typing = (user = 'alice') => ({ type: 'typing', room_id: roomId, user_id: user, is_typing: true });
  const stopped = (user = 'alice') => ({ type: 'typing_stopped', room_id: roomId, user_id: user });

  beforeEach(async () => {
    roomId = await chat.room('alice', ['bob', 'carol']);
    [alice, aliceTab, bob] = await Promise.all([chat.connect('alice'), chat.connect('alice'), chat.connect('bob')]);
    for (const client of [alice, aliceTab, bob]) await join(client, roomId);
    await Promise.all([alice.next('presence'), aliceTab.next('presence')]);
  });

  it('goes to the room’s other connections and the same user’s other tabs, never back to the sender', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    expect(await bob.next('typing')).toEqual(typing());
    expect(await aliceTab.next('typing')).toEqual(typing());
    aliceTab.send({ type: 'typing', room_id: roomId, is_typing: false });
    expect(await bob.next('typing_stopped')).toEqual(stopped());
    bob.send({ type: 'typing', room_id: roomId, is_typing: true });
    expect(await alice.next('typing')).toEqual(typing('bob'));
    expect(await aliceTab.next('typing')).toEqual(typing('bob'));
    await Promise.all([alice.nothing(150, 'typing'), bob.nothing(0, 'typing')]);
  });

  it('broadcasts at most one typing per user per throttle window, and again in a later window while the user keeps typing', async () => {
    for (let i = 0; i < 5; i++) alice.send({ type: 'typing', room_id: roomId });
    aliceTab.send({ type: 'typing', room_id: roomId });
    expect(await bob.next('typing')).toEqual(typing());
    await bob.nothing(THROTTLE_MS + 50, 'typing');
    for (let i = 0; i < 3; i++) alice.send({ type: 'typing', room_id: roomId });
    expect(await bob.next('typing')).toEqual(typing());
    await bob.nothing(150, 'typing');
    expect(bob.take('typing_stopped')).toEqual([]);
  });

  it('throttles each room on its own', async () => {
    const other = await chat.room('alice', ['bob']);
    await join(alice, other);
    await join(bob, other);
    alice.send({ type: 'typing', room_id: roomId });
    alice.send({ type: 'typing', room_id: other });
    const frames = [await bob.next('typing'), await bob.next('typing')];
    expect(frames.map((frame) => frame.room_id).sort()).toEqual([roomId, other].sort());
  });

  it('resets the window on a stop, so the next start is broadcast at once', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    expect(await bob.next('typing')).toEqual(typing());
    alice.send({ type: 'typing', room_id: roomId, is_typing: false });
    expect(await bob.next('typing_stopped')).toEqual(stopped());
    alice.send({ type: 'typing', room_id: roomId });
    expect(await bob.next('typing', THROTTLE_MS - 100)).toEqual(typing());
  });

  it('broadcasts an explicit stop once, as typing_stopped and never as typing', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    await bob.next('typing');
    await aliceTab.next('typing');
    alice.send({ type: 'typing', room_id: roomId, is_typing: false });
    alice.send({ type: 'typing', room_id: roomId, is_typing: false });
    expect(await bob.next('typing_stopped')).toEqual(stopped());
    expect(await aliceTab.next('typing_stopped')).toEqual(stopped());
    await Promise.all([bob.nothing(200), aliceTab.nothing(0), alice.nothing(0, 'typing_stopped')]);
    expect(bob.frames.filter((frame) => frame.type === 'typing')).toEqual([typing()]);
  });

  it('does not broadcast a stop for a user who is not typing', async () => {
    alice.send({ type: 'typing', room_id: roomId, is_typing: false });
    bob.send({ type: 'typing', room_id: roomId, is_typing: false });
    await Promise.all([bob.nothing(250), alice.nothing(0, 'typing_stopped'), aliceTab.nothing(0)]);
  });

  it('expires by itself TTL after the latest start, broadcast once as typing_stopped', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    await bob.next('typing');
    await bob.nothing(THROTTLE_MS + 50, 'typing_stopped');
    const restartedAt = Date.now();
    alice.send({ type: 'typing', room_id: roomId });
    await bob.next('typing');
    expect(await bob.next('typing_stopped', TTL_MS + 1000)).toEqual(stopped());
    expect(Date.now() - restartedAt).toBeGreaterThanOrEqual(TTL_MS - 50);
    expect(await aliceTab.next('typing_stopped')).toEqual(stopped());
    await Promise.all([bob.nothing(300, 'typing_stopped'), alice.nothing(0, 'typing_stopped')]);
    const carol = await chat.connect('carol');
    expect(await join(carol, roomId)).toMatchObject({ typing: [] });
    alice.send({ type: 'typing', room_id: roomId, is_typing: false });
    await bob.nothing(200, 'typing_stopped');
  });

  it('is cleared by a message sent over the socket', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    await bob.next('typing');
    alice.send({ type: 'send_message', room_id: roomId, content: 'done typing' });
    expect(await bob.next('typing_stopped')).toEqual(stopped());
    expect(await aliceTab.next('typing_stopped')).toEqual(stopped());
    await bob.next('message');
    await Promise.all([bob.nothing(200, 'typing_stopped'), alice.nothing(0, 'typing_stopped')]);
    bob.send({ type: 'send_message', room_id: roomId, content: 'not typing' });
    await alice.next('message');
    await alice.nothing(200, 'typing_stopped');
  });

  it('is cleared by a message sent over REST', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    await bob.next('typing');
    await request(chat.http)
      .post(`/api/v1/chats/rooms/${roomId}/messages`)
      .set('Authorization', `Bearer ${token('alice')}`)
      .send({ content: 'sent from the web' })
      .expect(201);
    expect(await bob.next('typing_stopped')).toEqual(stopped());
    expect(await bob.next('message')).toMatchObject({ message: { content: 'sent from the web' } });
    await bob.nothing(200, 'typing_stopped');
  });

  it('is cleared when the user’s last joined connection leaves the room', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    await bob.next('typing');
    alice.send({ type: 'leave_room', room_id: roomId });
    await alice.next('left');
    await bob.nothing(150, 'typing_stopped');
    aliceTab.send({ type: 'leave_room', room_id: roomId });
    await aliceTab.next('left');
    expect(await bob.next('typing_stopped')).toEqual(stopped());
    await bob.nothing(200, 'typing_stopped');
  });

  it('is cleared when the user’s last joined connection disconnects', async () => {
    bob.send({ type: 'typing', room_id: roomId });
    await alice.next('typing');
    await bob.close();
    expect(await alice.next('typing_stopped')).toEqual(stopped('bob'));
    expect(await aliceTab.next('typing_stopped')).toEqual(stopped('bob'));
    expect(await alice.next('presence')).toEqual({ type: 'presence', room_id: roomId, user_id: 'bob', status: 'offline' });
    await alice.nothing(200, 'typing_stopped');
  });

  it('lists the current typists in joined.typing', async () => {
    alice.send({ type: 'typing', room_id: roomId });
    bob.send({ type: 'typing', room_id: roomId });
    await Promise.all([bob.next('typing'), alice.next('typing')]);
    const carol = await chat.connect('carol');
    expect([...((await join(carol, roomId)).typing as string[])].sort()).toEqual(['alice', 'bob']);
    alice.send({ type: 'typing', room_id: roomId, is_typing: false });
    await bob.next('typing_stopped');
    const carolTab = await chat.connect('carol');
    expect(await join(carolTab, roomId)).toMatchObject({ typing: ['bob'] });
  });
});
