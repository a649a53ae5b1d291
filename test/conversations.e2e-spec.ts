import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { waitFor } from '../scripts/processes.mjs';
import { join } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
import { post } from './support/rest.js';
import { token, tokenWithClaims } from './support/tokens.js';
import { TestClient, type Frame } from './support/ws-client.js';

/**
 * What FocusMate's Messages page calls besides messages (PROTOCOL §5, §2):
 * room summaries, read state, direct / team / team-email rooms, the user
 * directory, and the per-user events that keep a list current.
 */

const API = '/api/v1/chats';
const auth = (user: string) => `Bearer ${token(user)}`;
const service = () => `Bearer ${token('backend', { role: 'service' })}`;
/** A user id no other test uses. */
const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

describe.each(MODES)('conversations, read state and the user directory (%s)', (mode) => {
  const chat = useInstances({ mode });
  const api = () => request(chat.http);
  const lastApi = () => request(chat.last.http);

  const direct = async (from: string, to: string, status = 201) =>
    (await api().post(`${API}/rooms/direct`).set('Authorization', auth(from)).send({ recipient_id: to }).expect(status)).body;
  const rooms = async (user: string, query: Record<string, string | number> = {}) =>
    (await api().get(`${API}/rooms`).query(query).set('Authorization', auth(user)).expect(200)).body;
  const unread = async (user: string) =>
    (await api().get(`${API}/unread-count`).set('Authorization', auth(user)).expect(200)).body.count as number;
  const putProfile = (userId: string, profile: object) =>
    api().put(`${API}/users/${encodeURIComponent(userId)}`).set('Authorization', service()).send(profile);

  describe('POST /rooms/direct', () => {
    it('creates the pair’s direct room once, whoever starts it (201 with the summary, partner from the directory)', async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      await putProfile(bob, { username: 'Bob B', email: `${bob}@example.com`, profile_image: 'https://img/b.png' }).expect(200);
      const first = await direct(alice, bob);
      expect(first).toMatchObject({
        room_type: 'direct',
        member_ids: expect.arrayContaining([alice, bob]),
        unread_count: 0,
        last_message_content: null,
        partner_id: bob,
        partner_username: 'Bob B',
        partner_email: `${bob}@example.com`,
        partner_profile_image: 'https://img/b.png',
        partner_is_online: false,
      });
      const again = await direct(bob, alice);
      expect(again.room_id).toBe(first.room_id);
      expect(again).toMatchObject({ partner_id: alice, partner_username: alice, partner_email: null });
    });

    it('still names the partner after they left (never the caller), and keeps the pair to itself', async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      await putProfile(bob, { username: 'Bob B' }).expect(200);
      const dm = await direct(alice, bob);
      expect(dm).not.toHaveProperty('direct_user_ids');
      await api().delete(`${API}/rooms/${dm.room_id}/members/${bob}`).set('Authorization', auth(bob)).expect(204);
      const after = (await lastApi().get(`${API}/rooms/${dm.room_id}`).set('Authorization', auth(alice)).expect(200)).body;
      expect(after).toMatchObject({ member_ids: [alice], partner_id: bob, partner_username: 'Bob B' });
      expect(after).not.toHaveProperty('direct_user_ids');
      expect((await rooms(alice, { room_type: 'direct' })).rooms[0]).toMatchObject({ room_id: dm.room_id, partner_id: bob });
    });

    it('shows the partner online while they hold a connection', async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      const room = await direct(alice, bob);
      const bobClient = await chat.connect(bob, chat.last);
      const seen = await api().get(`${API}/rooms/${room.room_id}`).set('Authorization', auth(alice)).expect(200);
      expect(seen.body.partner_is_online).toBe(true);
      await bobClient.close();
    });

    it('refuses a missing recipient, or the caller as their own, with 400 naming recipient_id', async () => {
      await api().post(`${API}/rooms/direct`).set('Authorization', auth(fresh('alice'))).send({}).expect(400);
      const alice = fresh('alice');
      const self = await api().post(`${API}/rooms/direct`).set('Authorization', auth(alice)).send({ recipient_id: alice }).expect(400);
      expect(self.body.message).toMatch(/^recipient_id /);
    });
  });

  describe('POST /rooms/team and /rooms/team-email', () => {
    it('creates a team room for a team (201), the caller its owner', async () => {
      const owner = fresh('owner');
      const response = await api()
        .post(`${API}/rooms/team`)
        .set('Authorization', auth(owner))
        .send({ team_id: 'team-7', room_name: 'Team 7', description: 'focus' })
        .expect(201);
      expect(response.body).toMatchObject({ room_type: 'team', team_id: 'team-7', room_name: 'Team 7', owner_id: owner, member_ids: [owner] });
      await api().post(`${API}/rooms/team`).set('Authorization', auth(owner)).send({ room_name: 'no team' }).expect(400);
    });

    it('adds the members found by email (case-insensitive) and lists the emails not found; 400 outside 1..50 emails', async () => {
      const [owner, carol, dave] = [fresh('owner'), fresh('carol'), fresh('dave')];
      await api()
        .put(`${API}/users`)
        .set('Authorization', service())
        .send({ users: [{ user_id: carol, email: `${carol}@Example.com` }, { user_id: dave, email: `${dave}@example.com`, username: 'Dave' }] })
        .expect(200, { updated: 2 });
      const response = await api()
        .post(`${API}/rooms/team-email`)
        .set('Authorization', auth(owner))
        .send({ room_name: 'By email', member_emails: [`${carol}@example.COM`, ` ${dave}@example.com`, 'nobody@example.com'], send_invitations: true })
        .expect(201);
      expect(response.body.member_ids.sort()).toEqual([carol, dave, owner].sort());
      expect(response.body.emails_not_found).toEqual(['nobody@example.com']);
      const send = (emails: string[]) =>
        api().post(`${API}/rooms/team-email`).set('Authorization', auth(owner)).send({ room_name: 'x', member_emails: emails });
      await send([]).expect(400);
      await send(Array.from({ length: 51 }, (_, i) => `u${i}@example.com`)).expect(400);
    });

    it('finds a user by the email their token carries, remembered when they call', async () => {
      const [owner, erin] = [fresh('owner'), fresh('erin')];
      const erinToken = tokenWithClaims({ sub: erin, exp: Math.floor(Date.now() / 1000) + 600, email: `${erin}@example.com`, username: 'Erin' });
      await api().get(`${API}/rooms`).set('Authorization', `Bearer ${erinToken}`).expect(200);
      const created = await lastApi()
        .post(`${API}/rooms/team-email`)
        .set('Authorization', auth(owner))
        .send({ room_name: 'claims', member_emails: [`${erin}@example.com`] })
        .expect(201);
      expect(created.body.member_ids).toContain(erin);
    });
  });

  describe('PUT /users (the directory, service tokens only)', () => {
    it('refuses user tokens with 403 and bad bodies with 400; null clears a field, a missing one keeps it', async () => {
      const frank = fresh('frank');
      await api().put(`${API}/users/${frank}`).set('Authorization', auth(frank)).send({ username: 'me' }).expect(403);
      await putProfile(frank, { username: 42 }).expect(400);
      await api().put(`${API}/users`).set('Authorization', service()).send({ users: [] }).expect(400);
      const stored = await putProfile(frank, { username: 'Frank', email: 'f@example.com' }).expect(200);
      expect(stored.body).toEqual({ user_id: frank, username: 'Frank', email: 'f@example.com', profile_image: null });
      const changed = await putProfile(frank, { email: null }).expect(200);
      expect(changed.body).toEqual({ user_id: frank, username: 'Frank', email: null, profile_image: null });
      // The profile as stored: a cleared username is null (summaries show the id in its place).
      const cleared = await putProfile(frank, { username: null }).expect(200);
      expect(cleared.body).toEqual({ user_id: frank, username: null, email: null, profile_image: null });
      const owner = fresh('owner');
      expect(await direct(owner, frank)).toMatchObject({ partner_id: frank, partner_username: frank });
    });
  });

  describe('GET /rooms summaries', () => {
    it('filters by room_type, lists the most recently active first, pages with total', async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      const team = (await api().post(`${API}/rooms/team`).set('Authorization', auth(alice)).send({ team_id: 't', room_name: 'T' }).expect(201)).body;
      const dm = await direct(alice, bob);
      await post(chat.http, team.room_id, alice, 'team news');
      const all = await rooms(alice);
      expect(all.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([team.room_id, dm.room_id]);
      expect(all.total).toBe(2);
      const directs = await rooms(alice, { room_type: 'direct' });
      expect(directs).toMatchObject({ total: 1, next: null, rooms: [{ room_id: dm.room_id, room_type: 'direct' }] });
      const firstPage = await rooms(alice, { limit: 1 });
      expect(firstPage).toMatchObject({ total: 2, rooms: [{ room_id: team.room_id }], next: expect.any(String) });
      const second = await rooms(alice, { limit: 1, cursor: firstPage.next });
      expect(second).toMatchObject({ total: 2, rooms: [{ room_id: dm.room_id }], next: null });
      await api().get(`${API}/rooms`).query({ room_type: 'group' }).set('Authorization', auth(alice)).expect(400);
    });

    it('previews the latest message (cut to 100 characters; a deleted one as such) and counts unread for the caller, never their own', async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      const dm = await direct(alice, bob);
      await post(chat.http, dm.room_id, alice, 'hello');
      const long = await post(chat.last.http, dm.room_id, bob, 'x'.repeat(150));
      const [ofAlice] = (await rooms(alice)).rooms;
      expect(ofAlice).toMatchObject({ last_message_sender_id: bob, last_message_at: long.created_at, unread_count: 1 });
      expect(ofAlice.last_message_content).toHaveLength(100);
      expect(ofAlice.last_message_content.endsWith('…')).toBe(true);
      expect((await rooms(bob)).rooms[0].unread_count).toBe(0);
      await api().delete(`${API}/rooms/${dm.room_id}/messages/${long.message_id}`).set('Authorization', auth(bob)).expect(200);
      const afterDelete = await api().get(`${API}/rooms/${dm.room_id}`).set('Authorization', auth(alice)).expect(200);
      expect(afterDelete.body.last_message_content).toBe('This message was deleted');
    });
  });

  describe('read state', () => {
    /** A room with three messages from alice: alice and one of bob's two connections joined, bob's other one elsewhere. */
    const roomWithThreeMessages = async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      const roomId = await chat.room(alice, [bob]);
      for (const text of ['1', '2', '3']) await post(chat.http, roomId, alice, text);
      const aliceClient = await chat.connect(alice);
      const bobHere = await chat.connect(bob);
      const bobThere = await chat.connect(bob, chat.last);
      await join(aliceClient, roomId);
      await join(bobHere, roomId);
      return { alice, bob, roomId, aliceClient, bobHere, bobThere };
    };

    it('POST /rooms/:id/read marks up to the latest; GET /unread-count sums every room; members carry last_read_at and unread_count', async () => {
      const [alice, bob, carol] = [fresh('alice'), fresh('bob'), fresh('carol')];
      const roomId = await chat.room(alice, [bob, carol]);
      const dm = await direct(bob, alice);
      for (const text of ['a', 'b', 'c']) await post(chat.http, roomId, alice, text);
      await post(chat.http, dm.room_id, bob, 'psst');
      expect(await unread(bob)).toBe(3);
      expect(await unread(carol)).toBe(3);
      expect(await unread(alice)).toBe(1);
      const marked = await lastApi().post(`${API}/rooms/${roomId}/read`).set('Authorization', auth(bob)).expect(200);
      expect(marked.body).toEqual({ message: 'Marked as read' });
      expect(await unread(bob)).toBe(0);
      const members = await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', auth(carol)).expect(200);
      const byUser = Object.fromEntries(members.body.map((m: { user_id: string }) => [m.user_id, m]));
      expect(byUser[bob]).toMatchObject({ unread_count: 0, last_read_at: expect.any(String) });
      expect(byUser[carol]).toMatchObject({ unread_count: 3, last_read_at: null });
      expect(byUser[alice]).toMatchObject({ unread_count: 0 });
      await api().post(`${API}/rooms/${roomId}/read`).set('Authorization', auth(fresh('mallory'))).expect(403);
    });

    it('the read frame moves forward only and never past the latest; the room hears read, the reader’s other connections hear unread', async () => {
      const { bob, roomId, aliceClient, bobHere, bobThere } = await roomWithThreeMessages();
      bobHere.send({ type: 'read', room_id: roomId, seq: 2 });
      expect(await aliceClient.next('read')).toEqual({ type: 'read', room_id: roomId, user_id: bob, seq: 2 });
      expect(await bobThere.next('unread')).toEqual({ type: 'unread', room_id: roomId, unread_count: 1, total: 1 });
      // The mover hears the room's read for its own move, not unread.
      expect(await bobHere.next('read')).toEqual({ type: 'read', room_id: roomId, user_id: bob, seq: 2 });
      await bobHere.nothing(100, 'unread');
      bobHere.send({ type: 'read', room_id: roomId, seq: 1 });
      bobHere.send({ type: 'read', room_id: roomId, seq: 99 });
      expect(await aliceClient.next('read')).toEqual({ type: 'read', room_id: roomId, user_id: bob, seq: 3 });
      expect(await bobThere.next('unread')).toEqual({ type: 'unread', room_id: roomId, unread_count: 0, total: 0 });
      expect(aliceClient.take('read')).toEqual([]);
      expect(await unread(bob)).toBe(0);
    });

    it('a send moves the sender’s position to its message with no read or unread frame, marking what came before it read', async () => {
      const { alice, bob, roomId, aliceClient, bobHere, bobThere } = await roomWithThreeMessages();
      expect(await unread(bob)).toBe(3);
      bobHere.send({ type: 'send_message', room_id: roomId, content: 'reply', client_msg_id: 'reply-1' });
      expect(await bobHere.next('message_ack')).toMatchObject({ message: { seq: 4 } });
      expect(await aliceClient.next('message')).toMatchObject({ message: { seq: 4, sender_id: bob } });
      expect(await unread(bob)).toBe(0);
      expect(await unread(alice)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 150));
      for (const client of [aliceClient, bobHere, bobThere]) expect([...client.take('read'), ...client.take('unread')]).toEqual([]);
    });

    it('two tabs reading at once, on two instances: read never goes back, unread frames agree with themselves, the last ones with the state', async () => {
      const [alice, bob] = [fresh('alice'), fresh('bob')];
      const [roomId, otherRoom] = [await chat.room(alice, [bob]), await chat.room(alice, [bob])];
      for (let i = 1; i <= 40; i++) await post(chat.http, roomId, alice, `m${i}`);
      await post(chat.http, otherRoom, alice, 'elsewhere');
      const [watcher, tabHere, tabThere, third] = [
        await chat.connect(alice),
        await chat.connect(bob),
        await chat.connect(bob, chat.last),
        await chat.connect(bob, chat.last),
      ];
      for (const client of [watcher, tabHere, tabThere]) await join(client, roomId);
      for (const [here, there] of [[10, 15], [20, 25], [30, 35], [38, 40]]) {
        tabHere.send({ type: 'read', room_id: roomId, seq: here });
        tabThere.send({ type: 'read', room_id: roomId, seq: there });
      }
      const arrived = (client: TestClient, type: string, done: (frame: Frame) => boolean) =>
        waitFor(() => client.frames.some((f) => f.type === type && done(f)), 5000, `${type} to the end`);
      await Promise.all([arrived(watcher, 'read', (f) => f.seq === 40), arrived(third, 'unread', (f) => f.unread_count === 0)]);
      // Whatever was still on its way has come.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const seqs = watcher.take('read').map((f) => f.seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      const counts = third.take('unread');
      for (const frame of counts) expect(frame.unread_count as number).toBeLessThanOrEqual(frame.total as number);
      expect(counts.at(-1)).toEqual({ type: 'unread', room_id: roomId, unread_count: 0, total: 1 });
      expect(await unread(bob)).toBe(1);
    });

    it('answers a read frame for a room not joined with not_joined, and a bad seq with invalid_frame', async () => {
      const bob = fresh('bob');
      const roomId = await chat.room(fresh('alice'), [bob]);
      const client = await chat.connect(bob);
      client.send({ type: 'read', room_id: roomId, seq: 1 });
      expect(await client.next('error')).toMatchObject({ code: 'not_joined', room_id: roomId });
      await join(client, roomId);
      client.send({ type: 'read', room_id: roomId, seq: -1 });
      expect(await client.next('error')).toMatchObject({ code: 'invalid_frame' });
    });
  });

  describe('events of a user', () => {
    it('room_added reaches every connection of a user added to a room, joined or not, on any instance; room_updated reaches the other members', async () => {
      const [alice, bob, carol] = [fresh('alice'), fresh('bob'), fresh('carol')];
      const bobClient = await chat.connect(bob, chat.last);
      const aliceClient = await chat.connect(alice);
      const dm = await direct(alice, bob);
      expect(await bobClient.next('room_added')).toMatchObject({ room: { room_id: dm.room_id, partner_id: alice, unread_count: 0 } });
      expect(await aliceClient.next('room_added')).toMatchObject({ room: { room_id: dm.room_id, partner_id: bob } });
      const roomId = await chat.room(alice, [bob]);
      expect(await bobClient.next('room_added')).toMatchObject({ room: { room_id: roomId } });
      const carolClient = await chat.connect(carol, chat.last);
      await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', auth(alice)).send({ user_id: carol }).expect(201);
      expect(await carolClient.next('room_added')).toMatchObject({ room: { room_id: roomId, member_ids: expect.arrayContaining([carol]) } });
      expect(await bobClient.next('room_updated')).toMatchObject({ room: { room_id: roomId, member_ids: expect.arrayContaining([alice, bob, carol]) } });
      await api().delete(`${API}/rooms/${roomId}/members/${carol}`).set('Authorization', auth(alice)).expect(204);
      const updated = await bobClient.next('room_updated');
      expect((updated.room as { member_ids: string[] }).member_ids.sort()).toEqual([alice, bob].sort());
    });

    it('room_updated comes at most once a second per room, however fast its membership changes, and last with the room as it is', async () => {
      const [alice, bob, carol] = [fresh('alice'), fresh('bob'), fresh('carol')];
      const roomId = await chat.room(alice, [bob]);
      const bobClient = await chat.connect(bob, chat.last);
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', auth(alice)).send({ user_id: carol }).expect(201);
        await api().delete(`${API}/rooms/${roomId}/members/${carol}`).set('Authorization', auth(alice)).expect(204);
      }
      await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', auth(alice)).send({ user_id: carol }).expect(201);
      // Twenty-one changes: one told at once, then the rest together, once a second.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const updates = bobClient.take('room_updated');
      expect(updates.length).toBeGreaterThanOrEqual(2);
      expect(updates.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000) + 1);
      expect((updates.at(-1)?.room as { member_ids: string[] }).member_ids.sort()).toEqual([alice, bob, carol].sort());
    });

    it('remembers the profile claims of a token from any REST call: messages, search, invitations', async () => {
      const calls: Array<(roomId: string) => request.Test> = [
        (roomId) => api().get(`${API}/rooms/${roomId}/messages`),
        (roomId) => api().get(`${API}/rooms/${roomId}/search`).query({ q: 'x' }),
        (roomId) => api().post(`${API}/rooms/${roomId}/invitation`).send({}),
      ];
      for (const [i, call] of calls.entries()) {
        const [owner, ivy] = [fresh('owner'), fresh(`ivy${i}`)];
        const roomId = (await api().post(`${API}/rooms`).set('Authorization', auth(owner)).send({ room_type: 'team', member_ids: [ivy] }).expect(201)).body.room_id as string;
        const ivyToken = tokenWithClaims({ sub: ivy, exp: Math.floor(Date.now() / 1000) + 600, username: `Ivy ${i}`, email: `${ivy}@example.com` });
        const answer = await call(roomId).set('Authorization', `Bearer ${ivyToken}`);
        expect(answer.status).toBeLessThan(300);
        expect(await direct(owner, ivy)).toMatchObject({ partner_username: `Ivy ${i}`, partner_email: `${ivy}@example.com` });
      }
    });

    it('remembers the profile claims of a token from the connection', async () => {
      const [alice, gina] = [fresh('alice'), fresh('gina')];
      const ginaToken = tokenWithClaims({ sub: gina, exp: Math.floor(Date.now() / 1000) + 600, username: 'Gina', picture: 'https://img/g.png' });
      const client = await TestClient.connect(chat.last.ws, ginaToken);
      const dm = await direct(alice, gina);
      expect(dm).toMatchObject({ partner_username: 'Gina', partner_profile_image: 'https://img/g.png', partner_is_online: true });
      await client.close();
    });
  });
});
