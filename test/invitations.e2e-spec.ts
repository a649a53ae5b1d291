import request from 'supertest';
import { MODES, useInstances } from './support/instances.js';
import { bearer } from './support/rest.js';

const API = '/api/v1/chats';
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

interface InvitationAnswer {
  code: string;
  room_id: string;
  expires_at: string;
  max_uses: number | null;
  current_uses: number;
  is_valid: boolean;
}

describe.each(MODES)('invitations (PROTOCOL §5), %s', (mode) => {
  const chat = useInstances({ mode, env: { INVITATION_GUESSES_PER_MINUTE: 3, MAX_MEMBERS_PER_ROOM: 3 } });
  const invite = (http: string, user: string, roomId: string, body: object = {}) =>
    request(http).post(`${API}/rooms/${roomId}/invitation`).set(...bearer(user)).send(body);
  const lookup = (http: string, user: string, code: string) => request(http).get(`${API}/invitations/${code}`).set(...bearer(user));
  const joinWith = (http: string, user: string, code: string) =>
    request(http).post(`${API}/rooms/join`).set(...bearer(user)).send({ invitation_code: code });

  it('a member makes a code; anyone looks it up and joins with it, on any instance, counting each use once', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const before = Date.now();
    const made = (await invite(chat.http, 'bob', roomId, { max_uses: 2 }).expect(201)).body as InvitationAnswer;
    expect(made).toEqual({ code: expect.stringMatching(/^[A-HJKMNP-Z2-9]{8}$/), room_id: roomId, expires_at: expect.any(String), max_uses: 2, current_uses: 0, is_valid: true });
    const expires = Date.parse(made.expires_at) - before;
    expect(expires).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(expires).toBeLessThanOrEqual(24 * 3600_000 + 60_000);

    expect((await lookup(chat.last.http, 'carol', made.code).expect(200)).body).toEqual(made);
    const joined = await joinWith(chat.last.http, 'carol', made.code.toLowerCase()).expect(200);
    expect(joined.body).toMatchObject({ room_id: roomId });
    expect((joined.body as { member_ids: string[] }).member_ids.sort()).toEqual(['alice', 'bob', 'carol']);
    await request(chat.http).get(`${API}/rooms/${roomId}`).set(...bearer('carol')).expect(200);
    // A member already: answered the room, no use counted.
    await joinWith(chat.http, 'carol', made.code).expect(200);
    expect((await lookup(chat.http, 'carol', made.code).expect(200)).body).toMatchObject({ current_uses: 1, is_valid: true });
  });

  it('refuses a code used up or past the room quota (400 / 409), and a use refused by a quota is given back', async () => {
    const roomId = await chat.room('alice', []);
    const made = (await invite(chat.http, 'alice', roomId, { max_uses: 1, expires_hours: 168 }).expect(201)).body as InvitationAnswer;
    await joinWith(chat.http, 'dave', made.code).expect(200);
    expect((await joinWith(chat.http, 'erin', made.code).expect(400)).body.message).toMatch(/used/);
    expect((await lookup(chat.http, 'erin', made.code).expect(200)).body).toMatchObject({ current_uses: 1, max_uses: 1, is_valid: false });

    const full = (await invite(chat.http, 'alice', roomId, { max_uses: 5 }).expect(201)).body as InvitationAnswer;
    await joinWith(chat.http, 'frank', full.code).expect(200);
    expect((await joinWith(chat.http, 'gina', full.code).expect(409)).body.message).toMatch(/members/);
    expect((await lookup(chat.http, 'gina', full.code).expect(200)).body).toMatchObject({ current_uses: 1 });
  });

  it('stops working once its maker is no longer a member: a removed member cannot come back with their own code', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const before = (await invite(chat.http, 'bob', roomId, { expires_hours: 168 }).expect(201)).body as InvitationAnswer;
    await request(chat.http).delete(`${API}/rooms/${roomId}/members/bob`).set(...bearer('alice')).expect(204);
    expect((await lookup(chat.last.http, 'bob', before.code).expect(200)).body).toMatchObject({ is_valid: false, current_uses: 0 });
    expect((await joinWith(chat.last.http, 'bob', before.code).expect(400)).body.message).toMatch(/no longer valid/);
    expect((await joinWith(chat.http, 'kim', before.code).expect(400)).body.message).toMatch(/no longer valid/);
    await request(chat.http).get(`${API}/rooms/${roomId}`).set(...bearer('bob')).expect(403);
    // Added again, the maker does not bring back what they made in the membership that ended.
    await request(chat.http).post(`${API}/rooms/${roomId}/members`).set(...bearer('alice')).send({ user_id: 'bob' }).expect(201);
    expect((await lookup(chat.http, 'bob', before.code).expect(200)).body).toMatchObject({ is_valid: false });
    await joinWith(chat.last.http, 'lee', before.code).expect(400);
    const after = (await invite(chat.http, 'bob', roomId).expect(201)).body as InvitationAnswer;
    expect(after.is_valid).toBe(true);
    // The owner's own codes are the room's as long as the owner stays.
    const owners = (await invite(chat.http, 'alice', roomId).expect(201)).body as InvitationAnswer;
    await joinWith(chat.http, 'kim', owners.code).expect(200);
  });

  it('tells the joiner (room_added) and the members (room_updated), on any instance', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const made = (await invite(chat.http, 'alice', roomId).expect(201)).body as InvitationAnswer;
    const [joiner, member] = await Promise.all([chat.connect('hank', chat.last), chat.connect('bob')]);
    await joinWith(chat.http, 'hank', made.code).expect(200);
    expect(await joiner.next('room_added')).toMatchObject({ room: { room_id: roomId, member_ids: expect.arrayContaining(['hank']) } });
    expect(await member.next('room_updated')).toMatchObject({ room: { room_id: roomId, member_ids: expect.arrayContaining(['hank']) } });
    // A member already is told nothing again.
    await joinWith(chat.http, 'hank', made.code).expect(200);
    await Promise.all([joiner.nothing(300, 'room_added'), member.nothing(0, 'room_updated')]);
    await Promise.all([joiner.close(), member.close()]);
  });

  it('counts one use for one user joining several times at once, on several instances, refusing nobody meanwhile', async () => {
    const roomId = await chat.room('alice', []);
    const made = (await invite(chat.http, 'alice', roomId, { max_uses: 10 }).expect(201)).body as InvitationAnswer;
    const joins = Array.from({ length: 6 }, (_, i) => joinWith(i % 2 ? chat.http : chat.last.http, 'ivan', made.code));
    for (const answer of await Promise.all(joins)) expect(answer.status).toBe(200);
    expect((await lookup(chat.http, 'ivan', made.code).expect(200)).body).toMatchObject({ current_uses: 1, is_valid: true });
    await joinWith(chat.http, 'judy', made.code).expect(200);

    // Two uses left for a double click and another user at once: nobody is told it is used up.
    for (let round = 0; round < 5; round++) {
      const room = await chat.room('alice', []);
      const pair = (await invite(chat.http, 'alice', room, { max_uses: 2 }).expect(201)).body as InvitationAnswer;
      const answers = await Promise.all([
        ...Array.from({ length: 3 }, (_, i) => joinWith(i % 2 ? chat.http : chat.last.http, 'kim', pair.code)),
        joinWith(chat.http, 'lee', pair.code),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
      expect((await lookup(chat.http, 'kim', pair.code).expect(200)).body).toMatchObject({ current_uses: 2, is_valid: false });
    }
  });

  it('checks the body and who may make a code', async () => {
    const roomId = await chat.room('alice', []);
    for (const body of [{ expires_hours: 0 }, { expires_hours: 169 }, { max_uses: 0 }, { max_uses: 101 }, { expires_hours: 'x' }]) {
      await invite(chat.http, 'alice', roomId, body).expect(400);
    }
    await invite(chat.http, 'mallory', roomId).expect(403);
    await invite(chat.http, 'alice', UNKNOWN_ROOM).expect(404);
    await invite(chat.http, 'alice', 'not-a-uuid').expect(400);
    await request(chat.http).post(`${API}/rooms/join`).set(...bearer('alice')).send({}).expect(400);
  });

  it('answers 404 for unknown codes and 429 for every lookup once a user has guessed too often', async () => {
    const roomId = await chat.room('alice', []);
    const made = (await invite(chat.http, 'alice', roomId).expect(201)).body as InvitationAnswer;
    for (const code of ['AAAAAAAA', 'BBBBBBBB', 'short']) await lookup(chat.http, 'guesser', code).expect(404);
    const refused = await lookup(chat.last.http, 'guesser', made.code).expect(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    await joinWith(chat.http, 'guesser', made.code).expect(429);
    // Someone else, from the same address, is refused too: guesses count per address as well.
    await lookup(chat.http, 'innocent', made.code).expect(429);
  });
});

describe.each(MODES)('invitation guesses made at once, %s', (mode) => {
  const chat = useInstances({ mode, env: { INVITATION_GUESSES_PER_MINUTE: 5 } });
  const lookup = (http: string, user: string, code: string) => request(http).get(`${API}/invitations/${code}`).set(...bearer(user));

  // First: the next test uses up the address's guesses for the minute.
  it('lets many people behind one address join with a code at once: their lookups are no guesses', async () => {
    const roomId = await chat.room('olga', []);
    const { code } = (await request(chat.http).post(`${API}/rooms/${roomId}/invitation`).set(...bearer('olga')).send({}).expect(201)).body as InvitationAnswer;
    const joins = Array.from({ length: 200 }, (_, i) =>
      request(i % 2 === 0 ? chat.http : chat.last.http).post(`${API}/rooms/join`).set(...bearer(`colleague-${i}`)).send({ invitation_code: code }),
    );
    expect((await Promise.all(joins)).map((response) => response.status)).toEqual(Array(200).fill(200));
  });

  it('counts each before it is looked up, so of 40 at once no more than the limit get an answer, and a code that exists is no guess', async () => {
    const roomId = await chat.room('alice', []);
    const { code } = (await request(chat.http).post(`${API}/rooms/${roomId}/invitation`).set(...bearer('alice')).send({}).expect(201)).body as InvitationAnswer;
    // Looking up a code that exists, more often than the limit: never refused.
    for (let i = 0; i < 8; i++) await lookup(chat.http, 'guesser', code).expect(200);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => lookup(i % 2 === 0 ? chat.http : chat.last.http, 'guesser', `ZZZZZZ${String.fromCharCode(65 + (i % 26))}${i % 10}`).then((r) => r.status)),
    );
    expect(statuses.filter((status) => status === 404)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(35);
    await lookup(chat.http, 'guesser', code).expect(429);
  });
});

describe('invitations one user makes', () => {
  const chat = useInstances({ env: { INVITATIONS_CREATED_PER_MINUTE: 3 } });

  it('are bounded per minute per user, refused attempts included', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const invite = (user: string) => request(chat.http).post(`${API}/rooms/${roomId}/invitation`).set(...bearer(user)).send({});
    for (let i = 0; i < 3; i++) await invite('alice').expect(201);
    const refused = await invite('alice').expect(429);
    expect(refused.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many invitations made; wait a minute' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    await invite('bob').expect(201);
  });
});
