import fc from 'fast-check';
import { connect } from 'node:net';
import request from 'supertest';
import { answersTo, expectServed, join } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
import { logs } from './support/logs.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

/**
 * What a client controls at the REST edge and in frames: ids, well-formed
 * text, any body or path at all; and that no token ever reaches a log line.
 */

const ROOMS = '/api/v1/chats/rooms';
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

/** Sends raw bytes and resolves to the status line of the answer (empty if the socket closed without one). */
function rawRequest(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.startsWith('HTTP/1.1 101')) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer.split('\r\n')[0]));
    socket.setTimeout(3000, () => socket.destroy());
  });
}

const bearer = (user: string, role?: string) => `Bearer ${token(user, { role })}`;

/** Percent-encodes any string, a lone surrogate as the three bytes a lax encoder would send (`\ud800` → `%ED%A0%80`). */
function encodePath(text: string): string {
  return text
    .split(/([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/)
    .map((part) => {
      if (part.length !== 1 || !/[\ud800-\udfff]/.test(part)) return encodeURIComponent(part);
      const unit = part.charCodeAt(0);
      return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    })
    .join('');
}

describe.each(MODES)('hostile input on %s', (mode) => {
  // What this app logs, from its start on.
  beforeAll(() => logs.clear());
  // Frames up to the largest, many in a row: what is tested is each one's answer, not the budget in bytes.
  const app = useInstances({ mode, count: 1, env: { RATE_LIMIT_BYTES_PER_SECOND: 16 * 1024 * 1024 } });
  const api = () => request(app.first.http);
  let roomId: string;
  beforeAll(async () => {
    const created = await api().post(ROOMS).set('Authorization', bearer('owner')).send({ room_type: 'team', member_ids: ['member'] });
    roomId = created.body.room_id as string;
  });
  afterAll(() => expect(logs.errors()).toEqual([]));

  /** The room still accepts, stores, edits and deletes messages for its members. */
  async function expectRoomWorks(): Promise<void> {
    const sent = await api()
      .post(`${ROOMS}/${roomId}/messages`)
      .set('Authorization', bearer('member'))
      .send({ content: 'still here' })
      .expect(201);
    const messageId = sent.body.message_id as string;
    await api().patch(`${ROOMS}/${roomId}/messages/${messageId}`).set('Authorization', bearer('member')).send({ content: 'edited' }).expect(200);
    await api().delete(`${ROOMS}/${roomId}/messages/${messageId}`).set('Authorization', bearer('member')).expect(200);
    const history = await api().get(`${ROOMS}/${roomId}/messages`).set('Authorization', bearer('owner')).expect(200);
    expect(history.body.messages.at(-1)).toMatchObject({ message_id: messageId, is_deleted: true });
  }

  it('answers room ids that are not the server’s UUIDs with 400, before any store is asked', async () => {
    const bad = ['no-such-room', `${UNKNOWN_ROOM}:dedup:mallory:x`, `${roomId}:members`, `${roomId}:info`, '*', UNKNOWN_ROOM.replace(/0/g, 'A')];
    for (const id of bad) {
      const path = `${ROOMS}/${encodeURIComponent(id)}`;
      for (const call of [
        api().get(path),
        api().get(`${path}/members`),
        api().post(`${path}/members`).send({ user_id: 'x' }),
        api().delete(`${path}/members/owner`),
        api().get(`${path}/messages`),
        api().post(`${path}/messages`).send({ content: 'hi' }),
      ]) {
        const response = await call.set('Authorization', bearer('owner'));
        expect({ id, status: response.status, message: response.body.message }).toEqual({
          id,
          status: 400,
          message: expect.stringContaining('room_id'),
        });
      }
    }
    await api().get(`${ROOMS}/${UNKNOWN_ROOM}`).set('Authorization', bearer('owner')).expect(404);
  });

  it('refuses client ids outside `A–Z a–z 0–9 . _ : -` (1–128) on REST and in frames', async () => {
    const post = (body: object) => api().post(`${ROOMS}/${roomId}/messages`).set('Authorization', bearer('member')).send(body);
    for (const clientMsgId of ['', 'a b', 'é', 'x\ny', 'x'.repeat(129), '{a}', '*']) {
      const refused = await post({ content: 'hi', client_msg_id: clientMsgId }).expect(400);
      expect(refused.body.message).toContain('client_msg_id');
    }
    const client = await TestClient.connect(app.first.ws, token('member'));
    await join(client, roomId);
    for (const clientMsgId of ['a b', 'x'.repeat(129)]) {
      const answers = await answersTo(client, JSON.stringify({ type: 'send_message', room_id: roomId, content: 'hi', client_msg_id: clientMsgId }));
      expect(answers).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringContaining('client_msg_id') })]);
    }
    // `eve` + `x:c1` and `eve:x` + `c1` are two messages, not one and a duplicate.
    await post({ content: 'one', client_msg_id: 'x:c1' }).expect(201);
    await post({ content: 'two', client_msg_id: 'x.c1_-' }).expect(201);
    await client.close();
  });

  it('counts lengths as PROTOCOL does, in UTF-16 code units: emoji with variation selectors take no more than their length', async () => {
    // Three code units each, which class-validator's MaxLength counted as one.
    const wide = (units: number) => '😀\uFE0F'.repeat(Math.ceil(units / 3)).slice(0, units);
    const create = (body: object) => api().post(ROOMS).set('Authorization', bearer('owner')).send({ room_type: 'team', ...body });
    for (const body of [{ member_ids: [wide(258)] }, { room_name: wide(201) }, { description: wide(2001) }]) {
      const refused = await create(body).expect(400);
      expect(refused.body.message).toMatch(/shorter than or equal to \d+ characters/);
    }
    await api().post(`${ROOMS}/direct`).set('Authorization', bearer('owner')).send({ recipient_id: wide(258) }).expect(400);
    await api().post(`${ROOMS}/${roomId}/members`).set('Authorization', bearer('owner')).send({ user_id: wide(258) }).expect(400);
    await api().get(`${ROOMS}/${roomId}/search`).query({ q: wide(201) }).set('Authorization', bearer('owner')).expect(400);
    // At the limit, counted the same way, they are taken.
    await create({ member_ids: [wide(255)], room_name: wide(198) }).expect(201);
  });

  it('refuses text with a lone surrogate anywhere, on REST (400) and in frames (invalid_frame), and the room keeps working', async () => {
    const lone = ['\ud800', 'a\udfffb', '\udc00\ud800'];
    for (const text of lone) {
      const bodies: Array<[string, string, object]> = [
        ['post', `${ROOMS}/${roomId}/messages`, { content: text }],
        ['post', `${ROOMS}/${roomId}/messages`, { content: 'ok', client_msg_id: text }],
        ['post', ROOMS, { room_type: 'team', room_name: text }],
        ['post', ROOMS, { room_type: 'team', description: text }],
        ['post', ROOMS, { room_type: 'team', member_ids: ['ok', text] }],
        ['post', ROOMS, { room_type: 'team', [text]: 1 }],
        ['post', `${ROOMS}/${roomId}/members`, { user_id: text }],
      ];
      for (const [, path, body] of bodies) {
        const response = await api().post(path).set('Authorization', bearer('owner')).send(body);
        expect({ path, status: response.status }).toEqual({ path, status: 400 });
      }
      const removal = await api()
        .delete(`${ROOMS}/${roomId}/members/${encodePath(text)}`)
        .set('Authorization', bearer('owner'));
      expect(removal.status).toBe(400);
    }
    const client = await TestClient.connect(app.first.ws, token('member'));
    await join(client, roomId);
    for (const frame of [
      { type: 'send_message', room_id: roomId, content: '\ud800' },
      { type: 'typing', room_id: roomId, '\ud800': true },
      { type: 'join_room', room_id: roomId, since: { seq: 0, epoch: '\udfff' } },
      // Frames whose handler takes no body, and types no handler has: the same rule.
      { type: 'ping', x: '\ud800' },
      { type: 'ping', '\udc00': 1 },
      { type: '\ud800' },
      { type: 'nope', x: ['\ud800'] },
    ]) {
      const answers = await answersTo(client, JSON.stringify(frame));
      expect(answers).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringContaining('Unicode') })]);
    }
    // An ill-formed ref is refused, and never written back.
    for (const type of ['ping', 'join_room', 'nope']) {
      const answers = await answersTo(client, JSON.stringify({ type, room_id: roomId, ref: 'a\ud800' }));
      expect(answers).toEqual([{ type: 'error', code: 'invalid_frame', message: 'ref must be well-formed Unicode text' }]);
    }
    // An unknown type is quoted cut to 64 code units, never through the middle of a character.
    const [unknown] = await answersTo(client, JSON.stringify({ type: `${'x'.repeat(63)}😀` }));
    expect(unknown).toMatchObject({ code: 'unknown_type', message: `Unknown frame type "${'x'.repeat(63)}"` });
    await expectServed(client);
    await client.close();
    await expectRoomWorks();
  });

  it('refuses arrays and objects nested deeper than 32, on REST (400) and in frames (invalid_frame), without an error logged', async () => {
    /** `depth` arrays, one inside the other: with the body or frame around it, one level more. */
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const tooDeep = expect.stringContaining('nest at most 32 deep');
    // 31 arrays in the body make 32 levels: the walk lets it through, and the DTO answers as it would.
    for (const [depth, message] of [
      [31, expect.not.stringContaining('nest at most')],
      [32, tooDeep],
      [30_000, tooDeep],
    ] as const) {
      for (const [path, body] of [
        [ROOMS, `{"room_type":"team","member_ids":${nested(depth)}}`],
        [`${ROOMS}/${roomId}/messages`, `{"content":"hi","attachments":${nested(depth)}}`],
      ]) {
        const response = await api().post(path).set('Authorization', bearer('owner')).set('Content-Type', 'application/json').send(body);
        expect({ path, depth, status: response.status, message: response.body.message }).toEqual({ path, depth, status: 400, message });
      }
    }
    const client = await TestClient.connect(app.first.ws, token('member'));
    await join(client, roomId);
    for (const [depth, message] of [
      [31, expect.not.stringContaining('nest at most')],
      [32, tooDeep],
      [30_000, tooDeep],
    ] as const) {
      for (const raw of [
        `{"type":"send_message","room_id":"${roomId}","content":"hi","attachments":${nested(depth)}}`,
        `{"type":"join_room","room_id":"${roomId}","since":${nested(depth)}}`,
        // A ping takes no body: nested 31 deep it is answered pong, deeper it is refused like the others.
        ...(depth > 31 ? [`{"type":"ping","x":${nested(depth)}}`] : []),
      ]) {
        const answers = await answersTo(client, raw);
        expect({ raw: raw.slice(0, 40), depth, answers }).toEqual({
          raw: raw.slice(0, 40),
          depth,
          answers: [expect.objectContaining({ type: 'error', code: 'invalid_frame', message })],
        });
      }
    }
    // A frame that names __proto__ is parsed with a reviver (which drops that key): the reviver recurses where JSON.parse alone does not.
    expect(await answersTo(client, `{"type":"typing","room_id":"${roomId}","__proto__":${nested(30_000)}}`)).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_frame', message: tooDeep }),
    ]);
    await expectServed(client);
    await client.close();
    await expectRoomWorks();
  });

  it('names what a field must be before its other rules: a wrong type is answered as such, on REST and in frames', async () => {
    for (const [body, message] of [
      [{ room_type: 'team', member_ids: 'bob' }, 'member_ids must be an array'],
      [{ room_type: 'team', room_name: 5 }, 'room_name must be a string'],
    ] as const) {
      const response = await api().post(ROOMS).set('Authorization', bearer('owner')).send(body).expect(400);
      expect(response.body.message).toBe(message);
    }
    for (const limit of ['abc', '0x2', '1e1', '%201', '2.0', '']) {
      const answer = await api().get(`${ROOMS}?limit=${limit}`).set('Authorization', bearer('owner')).expect(400);
      expect(answer.body.message).toBe('limit must be an integer number');
    }
    await api().get(`${ROOMS}?limit=2`).set('Authorization', bearer('owner')).expect(200);
    // A query parameter the route does not name is ignored (PROTOCOL §5, "Paging").
    const ignored = await api().get(`${ROOMS}?limit=1&cursor[]=forged&_=123`).set('Authorization', bearer('owner')).expect(200);
    expect(ignored.body.rooms).toHaveLength(1);
    const client = await TestClient.connect(app.first.ws, token('member'));
    await join(client, roomId);
    expect(await answersTo(client, JSON.stringify({ type: 'read', room_id: roomId }))).toEqual([
      expect.objectContaining({ code: 'invalid_frame', message: 'seq must be an integer number' }),
    ]);
    await client.close();
  });

  it('answers a path no route serves 404 naming the path, never its query string (which may carry a token), in the shape of every error', async () => {
    const { body } = await api().get('/api/v1/chats/nowhere?token=secret-looking&x=%0A').expect(404);
    expect(body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /api/v1/chats/nowhere' });
    // A long path is quoted in part.
    const long = `/api/v1/chats/${'x'.repeat(15_000)}`;
    expect((await api().get(long).expect(404)).body.message).toBe(`Cannot GET ${long.slice(0, 200)}…`);
    // A route's own 404 without a message (the WebSocket path spelt otherwise, which a plain GET reaches) has the same shape.
    for (const path of ['/api/v1/chats/WS', '/api/v1/chats/ws/']) {
      const answer = await api().get(path).expect(404);
      expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Not Found' });
    }
  });

  it('answers a body the parsers refuse (too large, bad gzip, unknown charset or encoding) as every other error, with its status', async () => {
    const post = () => api().post(ROOMS).set('Authorization', bearer('owner'));
    const refusals = [
      [post().set('Content-Type', 'application/json').send(JSON.stringify({ room_type: 'team', room_name: 'x'.repeat(200_000) })), 413],
      [post().set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('not gzip'), 400],
      [post().set('Content-Type', 'application/json').set('Content-Encoding', 'br2').send('{}'), 415],
      [post().set('Content-Type', 'application/json; charset=latin9').send('{}'), 415],
      [post().set('Content-Type', 'application/json').send('{bad'), 400],
    ] as const;
    for (const [sent, status] of refusals) {
      const { body } = await sent.expect(status);
      expect(body).toEqual({ statusCode: status, error: expect.any(String), message: expect.any(String) });
    }
    await expectRoomWorks();
  });

  it('refuses a room id that is not a UUID in join_room, leave_room, typing and send_message with invalid_frame', async () => {
    const client = await TestClient.connect(app.first.ws, token('member'));
    for (const type of ['join_room', 'leave_room', 'typing', 'send_message']) {
      for (const bad of ['r', `${roomId}:members`, roomId.toUpperCase(), `${roomId} `]) {
        const answers = await answersTo(client, JSON.stringify({ type, room_id: bad, content: 'hi' }));
        expect(answers).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringContaining('room_id') })]);
      }
    }
    await client.close();
  });

  describe('property: no body or path makes the service fail', () => {
    const hostileText = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('\ud800', 'a\udfff', ':', '\n', '\u0000', '*', '{x}', '../..', '%', '__proto__', 'constructor', 'prototype', 'x'.repeat(5000)),
    );
    const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
      hostileText,
      fc.integer(),
      fc.double(),
      fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2, 1e21),
      fc.boolean(),
      fc.constant(null),
      fc.array(hostileText, { maxLength: 4 }),
      fc.dictionary(hostileText, hostileText, { maxKeys: 3 }),
    );
    const field = fc.constantFrom('room_type', 'room_name', 'description', 'member_ids', 'user_id', 'content', 'client_msg_id', 'message_type', 'parent_message_id', '__proto__', 'constructor');
    /** A JSON body as raw text, so `__proto__` arrives as a key like from any client. */
    const rawBody = fc.dictionary(field, hostileValue, { maxKeys: 5 }).map((fields) => {
      const parts = Object.entries(fields).map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`);
      return `{${parts.join(',')}}`;
    });
    const route = fc.constantFrom(
      ['post', ROOMS],
      ['post', `${ROOMS}/:room/members`],
      ['post', `${ROOMS}/:room/messages`],
      ['patch', `${ROOMS}/:room/messages/:id`],
    );

    it('for any JSON body on any route: no 5xx, no ERROR log, and the room still works', async () => {
      await fc.assert(
        fc.asyncProperty(route, rawBody, async ([method, path], body) => {
          const url = path.replace(':room', roomId).replace(':id', 'some-message');
          const call = method === 'post' ? api().post(url) : api().patch(url);
          const response = await call.set('Authorization', bearer('member')).set('Content-Type', 'application/json').send(body);
          expect(response.status).toBeLessThan(500);
        }),
        { numRuns: 60 },
      );
      expect(({} as Record<string, unknown>).x).toBeUndefined();
      expect(logs.errors()).toEqual([]);
      await expectRoomWorks();
    }, 60_000);

    it('for any path parameters: no 5xx, no ERROR log, and the room still works', async () => {
      const segment = fc.oneof(hostileText, fc.constant(roomId), fc.constant(UNKNOWN_ROOM)).map(encodePath);
      await fc.assert(
        fc.asyncProperty(segment, segment, fc.constantFrom('get', 'delete', 'patch'), async (room, id, method) => {
          const paths = [`${ROOMS}/${room}`, `${ROOMS}/${room}/members`, `${ROOMS}/${room}/messages?before_message_id=${id}&limit=${id}`];
          const target = method === 'get' ? paths : [`${ROOMS}/${room}/members/${id}`, `${ROOMS}/${room}/messages/${id}`];
          for (const path of target) {
            const call = method === 'get' ? api().get(path) : method === 'delete' ? api().delete(path) : api().patch(path).send({ content: 'x' });
            const response = await call.set('Authorization', bearer('outsider'));
            expect({ path, status: response.status < 500 }).toEqual({ path, status: true });
          }
        }),
        { numRuns: 60 },
      );
      expect(logs.errors()).toEqual([]);
      await expectRoomWorks();
    }, 60_000);
  });
});

describe('tokens never reach a log line', () => {
  beforeAll(() => logs.clear());
  const app = useInstances({ env: { CORS_ORIGINS: 'http://allowed.example' } });

  it('logs none of the tokens it was given, on any path, error paths included', async () => {
    const given = [
      token('alice'),
      token('alice', { expiresInS: -3600 }),
      token('alice', { secret: 'another-secret-0123456789abcdef' }),
      `${token('alice').slice(0, -4)}AAAA`,
      'not.a.jwt-secret-looking-token',
    ];
    const { port } = new URL(app.first.http);
    const roomId = (await request(app.first.http).post(ROOMS).set('Authorization', `Bearer ${given[0]}`).send({ room_type: 'team' })).body
      .room_id as string;
    const answered: string[][] = [];
    for (const jwt of given) {
      const statusLines = await Promise.all([
        rawRequest(app.first.http, `GET //a:b/api/v1/chats/ws?token=${jwt} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`),
        rawRequest(app.first.http, `GET http://[::1/api/v1/chats/ws?token=${jwt} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`),
        rawRequest(app.first.http, `GET /api/v1/chats/ws?token=${jwt}&token=%ZZ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`),
        rawRequest(app.first.http, `GET /api/v1/chats/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer ${jwt}\r\nSec-WebSocket-Protocol: access_token, ${jwt}\r\n\r\n`),
        rawRequest(app.first.http, `GET /api/v1/chats/ws?token=${jwt} HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`),
        rawRequest(app.first.http, `GET /nowhere?token=${jwt} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nConnection: close\r\n\r\n`),
        rawRequest(app.first.http, `GET ${ROOMS}/%E0%A4%A?token=${jwt} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nConnection: close\r\n\r\n`),
        rawRequest(app.first.http, `POST ${ROOMS}?token=${jwt} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"bad":`),
      ]);
      answered.push(statusLines);
      await request(app.first.http).get(`${ROOMS}/${roomId}/messages?token=${jwt}`).set('Authorization', `Bearer ${jwt}`);
    }
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/api/v1/chats/ws`, given[0]);
    for (const jwt of given) {
      client.send({ type: 'refresh_token', token: jwt });
      await client.next(jwt === given[0] ? 'token_refreshed' : 'error');
    }
    await client.close();
    const logged = logs.lines.map((line) => line.full).join('\n');
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const jwt of given) {
      expect(logged).not.toContain(jwt);
      for (const part of jwt.split('.').filter((p) => p.length >= 16)) expect(logged).not.toContain(part);
    }
    for (const statusLines of answered) {
      // Not our path however it is written: answered without parsing it as a URL.
      expect(statusLines[0]).toBe('HTTP/1.1 404 Not Found');
      for (const [i, line] of statusLines.entries()) expect(`${i} ${line}`).toMatch(/^\d HTTP\/1\.1 [1-5]\d\d /);
    }
  });
});
