import request from 'supertest';
import { join, range, seqs } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
import { bearer, fullHistory, messagesPath, post } from './support/rest.js';
import { ISO_DATE, type Message, MESSAGE_FIELDS, messageShape } from './support/shapes.js';
import { token } from './support/tokens.js';

/** A room id of the right shape that no room has. */
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

const HISTORY_MAX = 60;

const failure = (statusCode: number, error: string, field?: string) => ({
  statusCode,
  error,
  message: field === undefined ? expect.any(String) : expect.stringContaining(field),
});

describe.each(MODES)('message REST API, PROTOCOL §5 (%s)', (mode) => {
  const chat = useInstances({ mode, env: { HISTORY_MAX_PER_ROOM: HISTORY_MAX } });
  const api = () => request(chat.first.http);
  const history = (roomId: string, query: Record<string, string | number> = {}, user = 'alice') =>
    api().get(messagesPath(roomId)).query(query).set(...bearer(user));

  async function fill(roomId: string, count: number, user = 'alice'): Promise<Message[]> {
    const sent: Message[] = [];
    for (let i = 1; i <= count; i++) sent.push(await post(chat.first.http, roomId, user, `m${i}`));
    return sent;
  }

  /** A socket of `user` joined to the room on the last instance (another instance on Redis). */
  async function watcher(roomId: string, user = 'bob') {
    const client = await chat.connect(user, chat.last);
    await join(client, roomId);
    return client;
  }

  describe('GET /rooms/:room_id/messages', () => {
    it('answers an empty room with no messages', async () => {
      const roomId = await chat.room('alice', []);
      const { body } = await history(roomId).expect(200);
      expect(body).toEqual({ messages: [], total: 0, has_more: false });
    });

    it('returns the newest 50 by default, oldest first, in the FocusMate shape, with total and has_more', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const sent = await fill(roomId, 55);
      const { body } = await history(roomId, {}, 'bob').expect(200);
      expect(body).toEqual({ messages: sent.slice(5), total: 55, has_more: true });
      for (const message of body.messages as Message[]) expect(Object.keys(message).sort()).toEqual(MESSAGE_FIELDS);
    });

    it('pages back with limit and before_message_id down to the oldest message', async () => {
      const roomId = await chat.room('alice', []);
      const sent = await fill(roomId, 25);
      const page = async (query: Record<string, string | number>) => (await history(roomId, query).expect(200)).body;
      expect(await page({ limit: 10 })).toEqual({ messages: sent.slice(15), total: 25, has_more: true });
      expect(await page({ limit: 10, before_message_id: sent[15].message_id })).toEqual({
        messages: sent.slice(5, 15),
        total: 25,
        has_more: true,
      });
      expect(await page({ limit: 10, before_message_id: sent[5].message_id })).toEqual({
        messages: sent.slice(0, 5),
        total: 25,
        has_more: false,
      });
      expect(await page({ limit: 1 })).toEqual({ messages: [sent[24]], total: 25, has_more: true });
      expect(await page({ limit: 100 })).toEqual({ messages: sent, total: 25, has_more: false });
      expect(await page({ limit: 5, before_message_id: sent[0].message_id })).toEqual({ messages: [], total: 25, has_more: false });
    });

    it('counts only the retained history in total', async () => {
      const roomId = await chat.room('alice', []);
      const sent = await fill(roomId, HISTORY_MAX + 5);
      const { body } = await history(roomId, { limit: 100 }).expect(200);
      expect(body).toEqual({ messages: sent.slice(5), total: HISTORY_MAX, has_more: false });
    });

    it.each(['0', '101', '-1', 'abc', '2.5'])('answers limit=%s with 400 naming limit', async (limit) => {
      const roomId = await chat.room('alice', []);
      const { body } = await history(roomId, { limit }).expect(400);
      expect(body).toEqual(failure(400, 'Bad Request', 'limit'));
    });

    it('answers an empty before_message_id with 400 naming it, an unknown one with 404', async () => {
      const roomId = await chat.room('alice', []);
      await fill(roomId, 2);
      expect((await history(roomId, { before_message_id: '' }).expect(400)).body).toEqual(
        failure(400, 'Bad Request', 'before_message_id'),
      );
      expect((await history(roomId, { before_message_id: 'no-such-message' }).expect(404)).body).toEqual(failure(404, 'Not Found'));
    });

    it('refuses non-members (403), unknown rooms (404) and missing tokens (401); a service token reads any room', async () => {
      const roomId = await chat.room('alice', []);
      await fill(roomId, 1);
      expect((await history(roomId, {}, 'mallory').expect(403)).body).toEqual(failure(403, 'Forbidden'));
      expect((await history(UNKNOWN_ROOM).expect(404)).body).toEqual(failure(404, 'Not Found'));
      expect((await api().get(messagesPath(roomId)).expect(401)).body).toEqual(failure(401, 'Unauthorized'));
      const { body } = await api()
        .get(messagesPath(roomId))
        .set('Authorization', `Bearer ${token('backend', { role: 'service' })}`)
        .expect(200);
      expect(body).toMatchObject({ total: 1, has_more: false });
    });
  });

  describe('POST /rooms/:room_id/messages', () => {
    it('answers 201 with the stored message and broadcasts it to every joined socket', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol']);
      const bob = await watcher(roomId);
      const alice = await watcher(roomId, 'alice');
      const idle = await chat.connect('carol', chat.last);
      const { body } = await api().post(messagesPath(roomId)).set(...bearer('alice')).send({ content: 'hello', client_msg_id: 'c-1' }).expect(201);
      expect(body).toEqual(
        messageShape({ room_id: roomId, sender_id: 'alice', seq: 1, content: 'hello', updated_at: body.created_at, client_msg_id: 'c-1' }),
      );
      expect(await bob.next('message')).toEqual({ type: 'message', message: body });
      expect(await alice.next('message')).toEqual({ type: 'message', message: body });
      await idle.nothing(200);
      expect(await fullHistory(chat.first.http, roomId, 'carol')).toEqual([body]);
    });

    it('returns the original for a client_msg_id the sender already used in the room, and broadcasts nothing', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const other = await chat.room('alice', []);
      const bob = await watcher(roomId);
      const alice = await chat.connect('alice', chat.last);
      await join(alice, roomId);
      const first = await post(chat.first.http, roomId, 'alice', 'once', { client_msg_id: 'c-1' });
      expect(await post(chat.last.http, roomId, 'alice', 'once more', { client_msg_id: 'c-1' })).toEqual(first);
      alice.send({ type: 'send_message', room_id: roomId, content: 'again', client_msg_id: 'c-1' });
      expect(await alice.next('message_ack')).toMatchObject({ client_msg_id: 'c-1', message: first });
      alice.send({ type: 'send_message', room_id: roomId, content: 'socket first', client_msg_id: 'c-2' });
      const viaSocket = (await alice.next('message_ack')).message as Message;
      expect(await post(chat.first.http, roomId, 'alice', 'rest retry', { client_msg_id: 'c-2' })).toEqual(viaSocket);
      expect((await bob.next('message')).message).toEqual(first);
      expect((await bob.next('message')).message).toEqual(viaSocket);
      await bob.nothing(250, 'message');
      const byBob = await post(chat.first.http, roomId, 'bob', 'mine', { client_msg_id: 'c-1' });
      const elsewhere = await post(chat.first.http, other, 'alice', 'there', { client_msg_id: 'c-1' });
      expect([byBob.seq, elsewhere.seq]).toEqual([3, 1]);
      expect(seqs(await fullHistory(chat.first.http, roomId, 'alice'))).toEqual([1, 2, 3]);
    });

    it.each([
      ['content', 'no content', {}],
      ['content', 'empty content', { content: '' }],
      ['content', 'a number', { content: 5 }],
      ['content', '4001 characters', { content: 'x'.repeat(4001) }],
      ['message_type', 'an unknown type', { content: 'x', message_type: 'video' }],
      ['client_msg_id', 'a 129-character id', { content: 'x', client_msg_id: 'c'.repeat(129) }],
    ])('answers 400 naming %s for %s, storing and broadcasting nothing', async (field, _label, payload) => {
      const roomId = await chat.room('alice', ['bob']);
      const bob = await watcher(roomId);
      const { body } = await api().post(messagesPath(roomId)).set(...bearer('alice')).send(payload).expect(400);
      expect(body).toEqual(failure(400, 'Bad Request', field));
      await bob.nothing(200, 'message');
      expect((await history(roomId).expect(200)).body.total).toBe(0);
    });

    it('accepts content of exactly 4000 characters', async () => {
      const roomId = await chat.room('alice', []);
      expect((await post(chat.first.http, roomId, 'alice', 'y'.repeat(4000))).content).toHaveLength(4000);
    });

    it('refuses non-members (403), unknown rooms (404) and missing tokens (401)', async () => {
      const roomId = await chat.room('alice', []);
      const send = (path: string, user?: string) => {
        const req = api().post(path).send({ content: 'hi' });
        return user === undefined ? req : req.set(...bearer(user));
      };
      expect((await send(messagesPath(roomId), 'mallory').expect(403)).body).toEqual(failure(403, 'Forbidden'));
      expect((await send(messagesPath(UNKNOWN_ROOM), 'alice').expect(404)).body).toEqual(failure(404, 'Not Found'));
      expect((await send(messagesPath(roomId)).expect(401)).body).toEqual(failure(401, 'Unauthorized'));
      expect((await history(roomId).expect(200)).body.total).toBe(0);
    });
  });

  describe('PATCH /rooms/:room_id/messages/:message_id', () => {
    it('answers 200 with the edited message, broadcasts message_updated and keeps the edit in history', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const [original, second] = await fill(roomId, 2);
      const bob = await watcher(roomId);
      const { body } = await api().patch(messagesPath(roomId, original.message_id)).set(...bearer('alice')).send({ content: 'edited' }).expect(200);
      expect(body).toEqual({ ...original, content: 'edited', is_edited: true, updated_at: expect.stringMatching(ISO_DATE) });
      expect(Date.parse(body.updated_at)).toBeGreaterThanOrEqual(Date.parse(original.created_at));
      expect(await bob.next('message_updated')).toEqual({ type: 'message_updated', message: body });
      expect(await fullHistory(chat.first.http, roomId, 'bob')).toEqual([body, second]);
    });

    it('lets only the sender edit: 403 others, 404 unknown messages and rooms, 400 naming content', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const elsewhere = await chat.room('alice', []);
      const [message] = await fill(roomId, 1);
      const [foreign] = await fill(elsewhere, 1);
      const bob = await watcher(roomId);
      const patch = (path: string, user: string, payload: object = { content: 'changed' }) =>
        api().patch(path).set(...bearer(user)).send(payload);
      const path = messagesPath(roomId, message.message_id);
      expect((await patch(path, 'bob').expect(403)).body).toEqual(failure(403, 'Forbidden'));
      expect((await patch(path, 'mallory').expect(403)).body).toEqual(failure(403, 'Forbidden'));
      expect((await patch(path, 'backend').set('Authorization', `Bearer ${token('backend', { role: 'service' })}`).expect(403)).body).toEqual(
        failure(403, 'Forbidden'),
      );
      expect((await patch(messagesPath(roomId, 'no-such-message'), 'alice').expect(404)).body).toEqual(failure(404, 'Not Found'));
      expect((await patch(messagesPath(roomId, foreign.message_id), 'alice').expect(404)).body).toEqual(failure(404, 'Not Found'));
      expect((await patch(messagesPath(UNKNOWN_ROOM, message.message_id), 'alice').expect(404)).body).toEqual(failure(404, 'Not Found'));
      for (const payload of [{}, { content: '' }, { content: 7 }, { content: 'z'.repeat(4001) }]) {
        expect((await patch(path, 'alice', payload).expect(400)).body).toEqual(failure(400, 'Bad Request', 'content'));
      }
      expect((await api().patch(path).send({ content: 'x' }).expect(401)).body).toEqual(failure(401, 'Unauthorized'));
      await bob.nothing(200, 'message_updated');
      expect(await fullHistory(chat.first.http, roomId, 'alice')).toEqual([message]);
    });
  });

  describe('DELETE /rooms/:room_id/messages/:message_id', () => {
    it('answers 200 with a tombstone that stays in history, and broadcasts message_deleted', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const [first, doomed, third] = await fill(roomId, 3);
      const bob = await watcher(roomId);
      const { body } = await api().delete(messagesPath(roomId, doomed.message_id)).set(...bearer('alice')).expect(200);
      expect(body).toEqual({ ...doomed, content: '', is_deleted: true, updated_at: expect.stringMatching(ISO_DATE) });
      expect(await bob.next('message_deleted')).toEqual({ type: 'message_deleted', room_id: roomId, message_id: doomed.message_id });
      const { body: page } = await history(roomId, {}, 'bob').expect(200);
      expect(page).toEqual({ messages: [first, body, third], total: 3, has_more: false });
      expect(seqs(page.messages)).toEqual(range(1, 3));
    });

    it('lets only the sender delete: 403 others, 404 unknown messages and rooms, 401 without a token', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const [message] = await fill(roomId, 1);
      const bob = await watcher(roomId);
      const path = messagesPath(roomId, message.message_id);
      const remove = (target: string, user: string) => api().delete(target).set(...bearer(user));
      expect((await remove(path, 'bob').expect(403)).body).toEqual(failure(403, 'Forbidden'));
      expect((await remove(path, 'mallory').expect(403)).body).toEqual(failure(403, 'Forbidden'));
      expect(
        (await api().delete(path).set('Authorization', `Bearer ${token('backend', { role: 'service' })}`).expect(403)).body,
      ).toEqual(failure(403, 'Forbidden'));
      expect((await remove(messagesPath(roomId, 'no-such-message'), 'alice').expect(404)).body).toEqual(failure(404, 'Not Found'));
      expect((await remove(messagesPath(UNKNOWN_ROOM, message.message_id), 'alice').expect(404)).body).toEqual(failure(404, 'Not Found'));
      expect((await api().delete(path).expect(401)).body).toEqual(failure(401, 'Unauthorized'));
      await bob.nothing(200, 'message_deleted');
      expect(await fullHistory(chat.first.http, roomId, 'alice')).toEqual([message]);
    });
  });
});
