import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { ask, join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { logs } from './support/logs.js';
import { ISO_DATE } from './support/shapes.js';
import { token } from './support/tokens.js';

/** A room id of the right shape that no room has. */
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

const API = '/api/v1/chats';
const bearer = (user: string, options: Parameters<typeof token>[1] = {}) => `Bearer ${token(user, options)}`;
const service = () => bearer('backend', { role: 'service' });
const errorBody = (statusCode: number, error: string, message: unknown = expect.any(String)) => ({
  statusCode,
  error,
  message,
});
/** A user id no other test uses, so GET /rooms sees only this test's rooms. */
const fresh = (name: string) => `${name}-${randomUUID()}`;

describe('REST rooms and members (PROTOCOL §5)', () => {
  const chat = useInstances();
  const api = () => request(chat.http);

  describe('POST /rooms', () => {
    it('creates a room (201, Room) whose owner and member is the caller', async () => {
      const response = await api()
        .post(`${API}/rooms`)
        .set('Authorization', bearer('alice'))
        .send({ room_type: 'team', room_name: 'Focus', description: 'deep work', member_ids: ['bob', 'carol', 'bob', 'alice'] })
        .expect(201);
      expect(response.body).toEqual({
        room_id: expect.any(String),
        room_type: 'team',
        room_name: 'Focus',
        description: 'deep work',
        owner_id: 'alice',
        member_ids: expect.arrayContaining(['alice', 'bob', 'carol']),
        is_active: true,
        is_archived: false,
        created_at: expect.stringMatching(ISO_DATE),
        last_message_at: null,
        last_message_content: null,
        last_message_sender_id: null,
        unread_count: 0,
      });
      expect(response.body.member_ids).toHaveLength(3);
      const members = await api()
        .get(`${API}/rooms/${response.body.room_id}/members`)
        .set('Authorization', bearer('alice'))
        .expect(200);
      expect(members.body).toContainEqual(expect.objectContaining({ user_id: 'alice', role: 'owner', joined_at: expect.stringMatching(ISO_DATE) }));
      const alice = await chat.connect('alice');
      expect(await join(alice, response.body.room_id)).toMatchObject({ online: ['alice'] });
    });

    it('creates a direct room with exactly one other user, and refuses any other count with 400', async () => {
      const direct = await api()
        .post(`${API}/rooms`)
        .set('Authorization', bearer('alice'))
        .send({ room_type: 'direct', member_ids: ['bob'] })
        .expect(201);
      expect(direct.body).toMatchObject({ room_type: 'direct', owner_id: 'alice', room_name: null, description: null });
      expect([...direct.body.member_ids].sort()).toEqual(['alice', 'bob']);
      for (const member_ids of [[], ['alice'], ['bob', 'carol']]) {
        const refused = await api()
          .post(`${API}/rooms`)
          .set('Authorization', bearer('alice'))
          .send({ room_type: 'direct', member_ids })
          .expect(400);
        expect(refused.body).toEqual(errorBody(400, 'Bad Request', expect.stringContaining('member_ids')));
      }
      // Nor does it take a third member later: not added by its owner or a service, not invited.
      const roomId = direct.body.room_id as string;
      for (const caller of [bearer('alice'), service()]) {
        const added = await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', caller).send({ user_id: 'carol' }).expect(400);
        expect(added.body).toEqual(errorBody(400, 'Bad Request', expect.stringContaining('two users only')));
      }
      // Adding one of its two users again changes nothing, as for any room.
      await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('alice')).send({ user_id: 'bob' }).expect(201);
      const invitation = await api().post(`${API}/rooms/${roomId}/invitation`).set('Authorization', bearer('bob')).send({}).expect(400);
      expect(invitation.body).toEqual(errorBody(400, 'Bad Request', expect.stringContaining('two users only')));
      const room = await api().get(`${API}/rooms/${roomId}`).set('Authorization', bearer('alice')).expect(200);
      expect([...room.body.member_ids].sort()).toEqual(['alice', 'bob']);
    });

    it.each([
      ['room_type', {}],
      ['room_type', { room_type: 'group' }],
      ['room_type', { room_type: 3 }],
      ['member_ids', { room_type: 'team', member_ids: 'bob' }],
      ['member_ids', { room_type: 'team', member_ids: [5] }],
      ['member_ids', { room_type: 'team', member_ids: [''] }],
      ['room_name', { room_type: 'team', room_name: 7 }],
      ['room_name', { room_type: 'team', room_name: 'n'.repeat(201) }],
      ['description', { room_type: 'team', description: false }],
    ])('answers 400 naming %s (case %#)', async (field, body) => {
      const response = await api().post(`${API}/rooms`).set('Authorization', bearer('alice')).send(body).expect(400);
      expect(response.body).toEqual(errorBody(400, 'Bad Request', expect.stringContaining(field)));
    });
  });

  it('GET /rooms lists the caller’s rooms only, with total', async () => {
    const [dana, erin] = [fresh('dana'), fresh('erin')];
    const own = await Promise.all([chat.room(dana, []), chat.room(dana, [erin]), chat.room(erin, [dana])]);
    await chat.room(erin, ['someone-else']);
    const response = await api().get(`${API}/rooms`).set('Authorization', bearer(dana)).expect(200);
    expect(response.body.total).toBe(3);
    expect(response.body.rooms.map((room: { room_id: string }) => room.room_id).sort()).toEqual([...own].sort());
    for (const room of response.body.rooms) expect(room.member_ids).toContain(dana);
    const nobody = await api().get(`${API}/rooms`).set('Authorization', bearer(fresh('nobody'))).expect(200);
    expect(nobody.body).toEqual({ rooms: [], total: 0, next: null });
  });

  it('GET /rooms/:room_id answers members and service tokens, 403 others, 404 unknown rooms', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const room = await api().get(`${API}/rooms/${roomId}`).set('Authorization', bearer('bob')).expect(200);
    expect(room.body).toMatchObject({ room_id: roomId, owner_id: 'alice', room_type: 'team', last_message_at: null });
    await api().get(`${API}/rooms/${roomId}`).set('Authorization', service()).expect(200);
    const forbidden = await api().get(`${API}/rooms/${roomId}`).set('Authorization', bearer('mallory')).expect(403);
    expect(forbidden.body).toEqual(errorBody(403, 'Forbidden'));
    const admin = await api().get(`${API}/rooms/${roomId}`).set('Authorization', bearer('mallory', { role: 'admin' }));
    expect(admin.status).toBe(403);
    for (const id of ['__proto__', 'constructor', 'no-such-room', 'ABCDEF00-0000-4000-8000-000000000000']) {
      await api().get(`${API}/rooms/${id}`).set('Authorization', bearer('alice')).expect(400);
    }
    for (const id of [UNKNOWN_ROOM]) {
      const missing = await api().get(`${API}/rooms/${id}`).set('Authorization', bearer('alice')).expect(404);
      expect(missing.body).toEqual(errorBody(404, 'Not Found'));
    }
    const posted = await api()
      .post(`${API}/rooms/${roomId}/messages`)
      .set('Authorization', bearer('bob'))
      .send({ content: 'hi' })
      .expect(201);
    const after = await api().get(`${API}/rooms/${roomId}`).set('Authorization', bearer('alice')).expect(200);
    expect(after.body.last_message_at).toBe(posted.body.created_at);
  });

  it('GET /rooms/:room_id/members lists Members with roles, for members and service tokens only', async () => {
    const roomId = await chat.room('alice', ['bob', 'carol']);
    const response = await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('carol')).expect(200);
    const joinedAt = expect.stringMatching(ISO_DATE);
    expect([...response.body].sort((a, b) => a.user_id.localeCompare(b.user_id))).toEqual([
      { user_id: 'alice', role: 'owner', joined_at: joinedAt, last_read_at: null, unread_count: 0 },
      { user_id: 'bob', role: 'member', joined_at: joinedAt, last_read_at: null, unread_count: 0 },
      { user_id: 'carol', role: 'member', joined_at: joinedAt, last_read_at: null, unread_count: 0 },
    ]);
    await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', service()).expect(200);
    const forbidden = await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('mallory')).expect(403);
    expect(forbidden.body).toEqual(errorBody(403, 'Forbidden'));
    await api().get(`${API}/rooms/${UNKNOWN_ROOM}/members`).set('Authorization', bearer('alice')).expect(404);
  });

  describe('POST /rooms/:room_id/members', () => {
    const add = (roomId: string, auth: string, body: object) =>
      api().post(`${API}/rooms/${roomId}/members`).set('Authorization', auth).send(body);

    it('lets the owner and a service token add members (201, Member), who may then join', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const byOwner = await add(roomId, bearer('alice'), { user_id: 'carol' }).expect(201);
      expect(byOwner.body).toEqual({ user_id: 'carol', role: 'member', joined_at: expect.stringMatching(ISO_DATE) });
      const byService = await add(roomId, service(), { user_id: 'dave' }).expect(201);
      expect(byService.body).toMatchObject({ user_id: 'dave', role: 'member' });
      const dave = await chat.connect('dave');
      expect(await join(dave, roomId)).toMatchObject({ room_id: roomId });
      const members = await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('dave')).expect(200);
      expect(members.body.map((m: { user_id: string }) => m.user_id).sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
    });

    it('refuses other members, non-members and non-service roles with 403, unknown rooms with 404', async () => {
      const roomId = await chat.room('alice', ['bob']);
      for (const auth of [bearer('bob'), bearer('mallory'), bearer('bob', { role: 'admin' })]) {
        const response = await add(roomId, auth, { user_id: 'mallory' }).expect(403);
        expect(response.body).toEqual(errorBody(403, 'Forbidden'));
      }
      await add(UNKNOWN_ROOM, bearer('alice'), { user_id: 'carol' }).expect(404);
      const members = await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('alice')).expect(200);
      expect(members.body).toHaveLength(2);
    });

    it.each([{}, { user_id: 5 }, { user_id: '' }, { user_id: 'u'.repeat(257) }, { user_id: '.' }, { user_id: '..' }])(
      'answers 400 naming user_id (case %#)',
      async (body) => {
        const roomId = await chat.room('alice', []);
        const response = await add(roomId, bearer('alice'), body).expect(400);
        expect(response.body).toEqual(errorBody(400, 'Bad Request', expect.stringContaining('user_id')));
      },
    );
  });

  it('takes a user id as long as a token’s sub may be (256) wherever it names a user: added, in a direct room, leaving', async () => {
    const long = 'u'.repeat(256);
    const roomId = await chat.room('alice', []);
    await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('alice')).send({ user_id: long }).expect(201);
    await api().post(`${API}/rooms/direct`).set('Authorization', bearer('alice')).send({ recipient_id: long }).expect(201);
    await api().post(`${API}/rooms`).set('Authorization', bearer(long)).send({ room_type: 'team', member_ids: ['alice'] }).expect(201);
    await api().delete(`${API}/rooms/${roomId}/members/${long}`).set('Authorization', bearer(long)).expect(204);
  });

  it('takes no . or .. as a user id, which no path could name: not as a token’s sub, a member, a recipient', async () => {
    const roomId = await chat.room('alice', []);
    for (const dots of ['.', '..']) {
      await api().get(`${API}/rooms`).set('Authorization', bearer(dots)).expect(401);
      await api().post(`${API}/rooms`).set('Authorization', bearer('alice')).send({ room_type: 'team', member_ids: ['bob', dots] }).expect(400);
      await api().post(`${API}/rooms/direct`).set('Authorization', bearer('alice')).send({ recipient_id: dots }).expect(400);
      await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('alice')).send({ user_id: dots }).expect(400);
    }
    await api().post(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('alice')).send({ user_id: '...' }).expect(201);
  });

  describe('DELETE /rooms/:room_id/members/:user_id', () => {
    const remove = (roomId: string, userId: string, auth: string) =>
      api().delete(`${API}/rooms/${roomId}/members/${userId}`).set('Authorization', auth);
    const memberIds = async (roomId: string) =>
      (await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', service()).expect(200)).body
        .map((m: { user_id: string }) => m.user_id)
        .sort();

    it('lets the owner, the member themself and a service token remove (204)', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol', 'dave']);
      const byOwner = await remove(roomId, 'bob', bearer('alice')).expect(204);
      expect(byOwner.text).toBe('');
      await remove(roomId, 'carol', bearer('carol')).expect(204);
      await remove(roomId, 'dave', service()).expect(204);
      expect(await memberIds(roomId)).toEqual(['alice']);
      await api().get(`${API}/rooms/${roomId}`).set('Authorization', bearer('carol')).expect(403);
    });

    it('refuses other members and non-members with 403, unknown rooms with 404', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol']);
      for (const [target, auth] of [
        ['carol', bearer('bob')],
        ['alice', bearer('bob')],
        ['bob', bearer('mallory')],
        ['bob', bearer('carol', { role: 'admin' })],
      ]) {
        const response = await remove(roomId, target, auth).expect(403);
        expect(response.body).toEqual(errorBody(403, 'Forbidden'));
      }
      expect(await memberIds(roomId)).toEqual(['alice', 'bob', 'carol']);
      await remove(UNKNOWN_ROOM, 'bob', bearer('alice')).expect(404);
    });

    it('refuses an owner who left (403, member or not), and lets them remove again once back, as the owner', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol']);
      await remove(roomId, 'alice', bearer('alice')).expect(204);
      for (const target of ['bob', 'nobody']) expect((await remove(roomId, target, bearer('alice')).expect(403)).body).toEqual(errorBody(403, 'Forbidden'));
      expect(await memberIds(roomId)).toEqual(['bob', 'carol']);
      const code = (await api().post(`${API}/rooms/${roomId}/invitation`).set('Authorization', bearer('bob')).send({}).expect(201)).body.code as string;
      await api().post(`${API}/rooms/join`).set('Authorization', bearer('alice')).send({ invitation_code: code }).expect(200);
      const members = (await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', bearer('alice')).expect(200)).body as Array<{ user_id: string; role: string }>;
      expect(members.find((m) => m.user_id === 'alice')?.role).toBe('owner');
      await remove(roomId, 'carol', bearer('alice')).expect(204);
    });
  });

  describe('authentication', () => {
    const endpoints: Array<[string, string]> = [
      ['post', '/rooms'],
      ['get', '/rooms'],
      ['get', '/rooms/some-room'],
      ['get', '/rooms/some-room/members'],
      ['post', '/rooms/some-room/members'],
      ['delete', '/rooms/some-room/members/bob'],
      ['post', '/rooms/some-room/messages'],
    ];
    const badHeaders = [
      undefined,
      'Bearer not-a-jwt',
      bearer('alice', { secret: 'another-secret-0123456789abcdef' }),
      bearer('alice', { expiresInS: -3600 }),
      `Basic ${token('alice')}`,
    ];

    it.each(endpoints)('%s %s answers 401 for a missing, invalid or expired token', async (method, path) => {
      const roomId = await chat.room('alice', ['bob']);
      const url = `${API}${path.replace('some-room', roomId)}`;
      for (const header of badHeaders) {
        let call = method === 'get' ? api().get(url) : method === 'post' ? api().post(url) : api().delete(url);
        if (header !== undefined) call = call.set('Authorization', header);
        const response = await call.send({ room_type: 'team', user_id: 'mallory', content: 'hi' });
        expect({ status: response.status, body: response.body }).toEqual({
          status: 401,
          body: errorBody(401, 'Unauthorized'),
        });
      }
      const members = await api().get(`${API}/rooms/${roomId}/members`).set('Authorization', service()).expect(200);
      expect(members.body).toHaveLength(2);
    });

    it('says what is wrong with an Authorization header that is not "Bearer <token>", rather than that there is none', async () => {
      const malformed = 'The Authorization header must be "Bearer <token>"';
      const cases: Array<[string | undefined, string]> = [
        [undefined, 'A token is required'],
        [`Basic ${token('alice')}`, malformed],
        [`${bearer('alice')}, Bearer x`, malformed],
        ['Bearer', malformed],
      ];
      for (const [header, message] of cases) {
        const call = api().get(`${API}/rooms`);
        const response = await (header === undefined ? call : call.set('Authorization', header));
        expect({ header, status: response.status, body: response.body }).toEqual({ header, status: 401, body: errorBody(401, 'Unauthorized', message) });
      }
    });
  });
});

describe('rooms whose stored data is damaged (REDIS_URL): PROTOCOL §5 answers, one bad key failing no list', () => {
  const chat = useInstances({ mode: 'redis', count: 1 });
  const api = () => request(chat.http);
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(chat.redisUrl);
  });
  afterAll(() => redis.quit());

  it('leaves a room whose info is not a room out of its members’ lists (logged) and a damaged member entry out of the members', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const good = await chat.room(alice, [bob]);
    const bad = await chat.room(alice, [bob]);
    await redis.set(`${chat.prefix}chat:{${bad}}:info`, '{not json');
    const list = await api().get(`${API}/rooms`).set('Authorization', bearer(alice)).expect(200);
    expect((list.body.rooms as Array<{ room_id: string }>).map((room) => room.room_id)).toEqual([good]);
    expect(logs.take('warn', new RegExp(`^room ${bad}: its stored info is not a room's; left out$`))).toHaveLength(1);

    await redis.hset(`${chat.prefix}chat:{${good}}:members`, bob, '{"user_id": 7}');
    const members = await api().get(`${API}/rooms/${good}/members`).set('Authorization', bearer(alice)).expect(200);
    expect((members.body as Array<{ user_id: string }>).map((member) => member.user_id)).toEqual([alice]);
  });

  it('edits and deletes in a room whose record of changes is not a sorted set, as anywhere else', async () => {
    const alice = fresh('alice');
    const roomId = await chat.room(alice, []);
    const messages = `${API}/rooms/${roomId}/messages`;
    const sent = (await api().post(messages).set('Authorization', bearer(alice)).send({ content: 'hello' }).expect(201)).body as { message_id: string };
    await redis.set(`${chat.prefix}chat:{${roomId}}:changes`, 'not a sorted set');
    const edited = await api().patch(`${messages}/${sent.message_id}`).set('Authorization', bearer(alice)).send({ content: 'hello again' }).expect(200);
    expect(edited.body).toMatchObject({ content: 'hello again', is_edited: true });
    await api().delete(`${messages}/${sent.message_id}`).set('Authorization', bearer(alice)).expect(200);
  });

  it('counts a room whose message log is not a log as empty in its members’ lists (logged), which still answer', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const good = await chat.room(alice, [bob]);
    const bad = await chat.room(alice, [bob]);
    await api().post(`${API}/rooms/${good}/messages`).set('Authorization', bearer(alice)).send({ content: 'hello' }).expect(201);
    await redis.del(`${chat.prefix}chat:{${bad}}:log`);
    await redis.set(`${chat.prefix}chat:{${bad}}:log`, 'not a stream');
    const list = await api().get(`${API}/rooms`).set('Authorization', bearer(bob)).expect(200);
    const rooms = list.body.rooms as Array<{ room_id: string; unread_count: number }>;
    expect(rooms.map((room) => [room.room_id, room.unread_count]).sort()).toEqual([[bad, 0], [good, 1]].sort());
    await api().get(`${API}/unread-count`).set('Authorization', bearer(bob)).expect(200);
    expect(logs.take('warn', new RegExp(`^room ${bad}: its stored seq is not a count \\(a key of the wrong type\\); counted as empty$`)).length).toBeGreaterThan(0);
  });

  it('answers every REST request about a room whose info is damaged 500 (logged), never 404; its lists and other rooms still answer', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const good = await chat.room(alice, [bob]);
    const bad = await chat.room(alice, [bob]);
    await api().post(`${API}/rooms/${bad}/messages`).set('Authorization', bearer(alice)).send({ content: 'before' }).expect(201);
    const meta = await redis.hgetall(`${chat.prefix}chat:{${bad}}:meta`);
    await redis.set(`${chat.prefix}chat:{${bad}}:info`, '{not json');

    const requests = [
      api().get(`${API}/rooms/${bad}`).set('Authorization', bearer(alice)),
      api().get(`${API}/rooms/${bad}`).set('Authorization', service()),
      api().get(`${API}/rooms/${bad}/messages`).set('Authorization', bearer(alice)),
      api().get(`${API}/rooms/${bad}/members`).set('Authorization', bearer(alice)),
      api().post(`${API}/rooms/${bad}/messages`).set('Authorization', bearer(alice)).send({ content: 'into a damaged room' }),
      api().post(`${API}/rooms/${bad}/read`).set('Authorization', bearer(alice)),
      api().post(`${API}/rooms/${bad}/members`).set('Authorization', service()).send({ user_id: fresh('carol') }),
    ];
    for (const call of requests) {
      const response = await call;
      expect({ status: response.status, body: response.body }).toEqual({
        status: 500,
        body: errorBody(500, 'Internal Server Error', 'Internal server error'),
      });
    }
    expect(logs.take('error', new RegExp(`^DamagedRoomError: room ${bad}: its stored info is not a room's$`), 'HttpErrorFilter')).toHaveLength(
      requests.length,
    );
    // Nothing was written into it.
    expect(await redis.hgetall(`${chat.prefix}chat:{${bad}}:meta`)).toEqual(meta);

    // Lists leave it out (logged), and answer.
    const list = await api().get(`${API}/rooms`).set('Authorization', bearer(alice)).expect(200);
    expect((list.body.rooms as Array<{ room_id: string }>).map((room) => room.room_id)).toEqual([good]);
    expect(logs.take('warn', new RegExp(`^room ${bad}: its stored info is not a room's; left out$`))).toHaveLength(1);
    await api().get(`${API}/unread-count`).set('Authorization', bearer(alice)).expect(200);
    // Another room answers as ever; a room that is not there at all is still 404.
    await api().get(`${API}/rooms/${good}`).set('Authorization', bearer(alice)).expect(200);
    await api().get(`${API}/rooms/${good}/messages`).set('Authorization', bearer(alice)).expect(200);
    await api().post(`${API}/rooms/${good}/messages`).set('Authorization', bearer(alice)).send({ content: 'fine' }).expect(201);
    const unknown = await api().get(`${API}/rooms/${UNKNOWN_ROOM}`).set('Authorization', bearer(alice)).expect(404);
    expect(unknown.body).toEqual(errorBody(404, 'Not Found', 'No such room'));
  });

  it('answers join_room of a room whose info is damaged internal_error; a connection joined before keeps its room; other rooms unaffected', async () => {
    const [dora, erin] = [fresh('dora'), fresh('erin')];
    const good = await chat.room(dora, [erin]);
    const bad = await chat.room(dora, [erin]);
    const [doraClient, erinClient] = [await chat.connect(dora), await chat.connect(erin)];
    // Erin joined before the damage.
    await join(erinClient, bad);
    await join(erinClient, good);
    const meta = await redis.hgetall(`${chat.prefix}chat:{${bad}}:meta`);
    await redis.set(`${chat.prefix}chat:{${bad}}:info`, '{not json');

    expect(await ask(doraClient, { type: 'join_room', room_id: bad })).toMatchObject({ type: 'error', code: 'internal_error' });
    // Dora's join failed: she is not in the room, and stores nothing there.
    expect(await ask(doraClient, { type: 'send_message', room_id: bad, content: 'not joined' })).toMatchObject({ type: 'error', code: 'not_joined' });
    expect(await redis.hgetall(`${chat.prefix}chat:{${bad}}:meta`)).toEqual(meta);
    // A send reads no room info: Erin, joined before, goes on (the history is whole).
    expect(await ask(erinClient, { type: 'send_message', room_id: bad, content: 'into a room with damaged info' })).toMatchObject({ type: 'message_ack' });

    // The connections go on; another room works, and a room that is not there is refused as ever.
    expect(await ask(doraClient, { type: 'ping' })).toMatchObject({ type: 'pong' });
    await join(doraClient, good);
    expect(await ask(erinClient, { type: 'send_message', room_id: good, content: 'fine' })).toMatchObject({ type: 'message_ack' });
    expect(await doraClient.next('message')).toMatchObject({ message: { content: 'fine' } });
    expect(await ask(doraClient, { type: 'join_room', room_id: UNKNOWN_ROOM })).toMatchObject({ type: 'error', code: 'not_a_member' });
  });

  it('answers a join of a room whose stored seq is not a count internal_error, never joined with a seq that is not one', async () => {
    const [dora, erin] = [fresh('dora'), fresh('erin')];
    const roomId = await chat.room(dora, [erin]);
    await redis.hset(`${chat.prefix}chat:{${roomId}}:meta`, 'seq', '1e20', 'epoch', 'e-damaged');
    const client = await chat.connect(dora);
    expect(await ask(client, { type: 'join_room', room_id: roomId })).toMatchObject({ type: 'error', code: 'internal_error' });
    expect(await ask(client, { type: 'ping' })).toMatchObject({ type: 'pong' });
    // Its members' lists still answer, the room among them.
    const list = await api().get(`${API}/rooms`).set('Authorization', bearer(dora)).expect(200);
    expect((list.body.rooms as Array<{ room_id: string }>).map((room) => room.room_id)).toEqual([roomId]);
    await api().get(`${API}/unread-count`).set('Authorization', bearer(dora)).expect(200);
  });

  it('takes a connection out of a room it had joined when joining it again fails (PROTOCOL §2)', async () => {
    const [dora, erin] = [fresh('dora'), fresh('erin')];
    const roomId = await chat.room(dora, [erin]);
    const [doraClient, erinClient] = [await chat.connect(dora), await chat.connect(erin)];
    const joined = await join(doraClient, roomId);
    await join(erinClient, roomId);
    const meta = `${chat.prefix}chat:{${roomId}}:meta`;
    const stored = await redis.hgetall(meta);
    await redis.hset(meta, 'seq', '1e20');
    const since = { seq: joined.seq as number, epoch: joined.epoch as string };
    expect(await ask(doraClient, { type: 'join_room', room_id: roomId, since })).toMatchObject({ type: 'error', code: 'internal_error' });
    // Put back as it was (a room with no message yet has none).
    await redis.del(meta);
    if (Object.keys(stored).length > 0) await redis.hset(meta, stored);

    expect(await ask(doraClient, { type: 'send_message', room_id: roomId, content: 'still in?' })).toMatchObject({ type: 'error', code: 'not_joined' });
    expect(await ask(erinClient, { type: 'send_message', room_id: roomId, content: 'after the failed join' })).toMatchObject({ type: 'message_ack' });
    expect(await ask(doraClient, { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(doraClient.frames.filter((frame) => frame.type === 'message')).toEqual([]);
    // Joining again works once the store is whole.
    expect(await join(doraClient, roomId, since)).toMatchObject({ recovered: true });
    expect(await doraClient.next('message')).toMatchObject({ message: { content: 'after the failed join' } });
  });

  it('answers a failure it cannot name 500 in the same shape as every error, never its message', async () => {
    const carol = fresh('carol');
    await chat.room(carol, []);
    // A key of the wrong type: Redis answers WRONGTYPE, a damaged store rather than one that is away.
    await redis.del(`${chat.prefix}chat:user:{${carol}}:rooms`);
    await redis.set(`${chat.prefix}chat:user:{${carol}}:rooms`, 'not a sorted set');
    const response = await api().get(`${API}/rooms`).set('Authorization', bearer(carol)).expect(500);
    expect(response.body).toEqual(errorBody(500, 'Internal Server Error', 'Internal server error'));
  });
});
