import request from 'supertest';
import type { Message } from '../src/chat/protocol.js';
import { join } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
import { bearer, messagesPath, post } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient, type Frame } from './support/ws-client.js';

const reactPath = (roomId: string, messageId: string) => `${messagesPath(roomId, messageId)}/react`;
const searchPath = (roomId: string) => `/api/v1/chats/rooms/${roomId}/search`;

describe.each(MODES)('attachments, reactions and search (PROTOCOL §3, §5), %s', (mode) => {
  const chat = useInstances({ mode, env: { RATE_LIMIT_PER_SECOND: 1000, RATE_LIMIT_BURST: 1000 } });

  describe('attachments and message types', () => {
    it('stores and returns attachments and image/file types, over REST and the socket', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const bob = await chat.connect('bob', chat.last);
      await join(bob, roomId);
      const sent = await post(chat.http, roomId, 'alice', 'look', { message_type: 'image', attachments: ['/files/a.png'] });
      expect(sent).toMatchObject({ message_type: 'image', attachments: ['/files/a.png'] });
      expect((await bob.next('message')).message).toEqual(sent);

      bob.send({ type: 'send_message', room_id: roomId, content: 'the report', message_type: 'file', attachments: ['https://x/r.pdf', 'https://x/s.pdf'] });
      const ack = await bob.next('message_ack');
      expect(ack.message).toMatchObject({ message_type: 'file', attachments: ['https://x/r.pdf', 'https://x/s.pdf'] });
      const history = await request(chat.last.http).get(messagesPath(roomId)).set(...bearer('alice')).expect(200);
      expect((history.body as { messages: Message[] }).messages.map((m) => m.attachments)).toEqual([
        ['/files/a.png'],
        ['https://x/r.pdf', 'https://x/s.pdf'],
      ]);
    });

    it('refuses an unknown type, too many or too long attachments, and system from a user token', async () => {
      const roomId = await chat.room('alice', []);
      const send = (body: object) => request(chat.http).post(messagesPath(roomId)).set(...bearer('alice')).send({ content: 'x', ...body });
      expect((await send({ message_type: 'video' }).expect(400)).body.message).toMatch(/message_type/);
      expect((await send({ attachments: Array.from({ length: 11 }, (_, i) => `u${i}`) }).expect(400)).body.message).toMatch(/attachments/);
      expect((await send({ attachments: ['u'.repeat(2049)] }).expect(400)).body.message).toMatch(/attachments/);
      expect((await send({ attachments: 'not-a-list' }).expect(400)).body.message).toMatch(/attachments/);
      expect((await send({ message_type: 'system' }).expect(400)).body.message).toMatch(/service tokens only/);
      const alice = await chat.connect('alice');
      await join(alice, roomId);
      alice.send({ type: 'send_message', room_id: roomId, content: 'x', message_type: 'system', ref: 's' });
      expect(await alice.next('error')).toMatchObject({ code: 'invalid_frame', message: 'message_type system is for service tokens only', ref: 's' });
    });

    it('takes an empty attachments list as null, over REST and the socket', async () => {
      const roomId = await chat.room('alice', []);
      const posted = await request(chat.http).post(messagesPath(roomId)).set(...bearer('alice')).send({ content: 'x', attachments: [] }).expect(201);
      expect(posted.body.attachments).toBeNull();
      const alice = await chat.connect('alice');
      await join(alice, roomId);
      alice.send({ type: 'send_message', room_id: roomId, content: 'y', attachments: [] });
      expect((await alice.next('message_ack')).message).toMatchObject({ content: 'y', attachments: null });
    });

    it('lets a service token post a system message to a room it is a member of', async () => {
      const roomId = await chat.room('alice', ['system-bot']);
      const response = await request(chat.http)
        .post(messagesPath(roomId))
        .set('Authorization', `Bearer ${token('system-bot', { role: 'service' })}`)
        .send({ content: 'bob joined', message_type: 'system' })
        .expect(201);
      expect(response.body).toMatchObject({ message_type: 'system', sender_id: 'system-bot' });
      // And over the socket, where the connection's token is the service token.
      const bot = await TestClient.connect(chat.ws, token('system-bot', { role: 'service' }));
      await join(bot, roomId);
      bot.send({ type: 'send_message', room_id: roomId, content: 'carol joined', message_type: 'system', ref: 's' });
      expect((await bot.next('message_ack')).message).toMatchObject({ message_type: 'system', sender_id: 'system-bot', content: 'carol joined' });
      await bot.close();
    });
  });

  describe('reactions', () => {
    it('adds once, lists who reacted, removes, and broadcasts each change as message_updated with the whole message', async () => {
      const roomId = await chat.room('alice', ['bob', 'carol']);
      const watcher = await chat.connect('carol', chat.last);
      await join(watcher, roomId);
      const message = await post(chat.http, roomId, 'alice', 'hi');
      await watcher.next('message');
      const react = (user: string, emoji: string, method: 'post' | 'delete' = 'post') =>
        request(chat.http)[method](reactPath(roomId, message.message_id)).query({ emoji }).set(...bearer(user));

      expect((await react('bob', '👍').expect(200)).body).toEqual({
        message_id: message.message_id,
        reactions: [{ emoji: '👍', users: ['bob'], count: 1 }],
      });
      const first = await watcher.next('message_updated');
      expect(first.message).toMatchObject({ message_id: message.message_id, content: 'hi', seq: 1, reactions: [{ emoji: '👍', users: ['bob'], count: 1 }] });

      expect((await react('bob', '👍').expect(200)).body.reactions).toEqual([{ emoji: '👍', users: ['bob'], count: 1 }]);
      await react('alice', '👍').expect(200);
      expect((await react('carol', ':tada:').expect(200)).body.reactions).toEqual([
        { emoji: '👍', users: ['bob', 'alice'], count: 2 },
        { emoji: ':tada:', users: ['carol'], count: 1 },
      ]);
      expect((await react('bob', '👍', 'delete').expect(200)).body.reactions).toEqual([
        { emoji: '👍', users: ['alice'], count: 1 },
        { emoji: ':tada:', users: ['carol'], count: 1 },
      ]);
      await react('bob', '👍', 'delete').expect(200);
      // Four changes, four events (adding twice and removing twice changed nothing); the last is the state.
      const events: Frame[] = [];
      for (let i = 0; i < 3; i++) events.push(await watcher.next('message_updated'));
      expect((events[2].message as Message).reactions).toEqual([
        { emoji: '👍', users: ['alice'], count: 1 },
        { emoji: ':tada:', users: ['carol'], count: 1 },
      ]);
      await watcher.nothing(200, 'message_updated');

      const history = await request(chat.last.http).get(messagesPath(roomId)).set(...bearer('bob')).expect(200);
      expect((history.body as { messages: Message[] }).messages[0].reactions).toEqual((events[2].message as Message).reactions);
    });

    it('refuses a bad emoji, a non-member, an unknown message, a deleted one, and a 51st distinct emoji', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const message = await post(chat.http, roomId, 'alice', 'hi');
      const react = (emoji: string, user = 'bob', messageId = message.message_id) =>
        request(chat.http).post(reactPath(roomId, messageId)).query({ emoji }).set(...bearer(user));
      for (const emoji of ['', 'abc', '<b>', '👍'.repeat(17), ':Bad Code:', 'a👍', '\u200d', '\ufe0f', '\u200d\u200d\u200d', '\u{E0041}\u{E0042}', '#']) {
        expect((await react(emoji).expect(400)).body.message).toMatch(/emoji/);
      }
      await request(chat.http).post(reactPath(roomId, message.message_id)).set(...bearer('bob')).expect(400);
      await react('👍', 'mallory').expect(403);
      await react('👍', 'bob', 'no-such-message').expect(404);

      const emoji = Array.from({ length: 50 }, (_, i) => String.fromCodePoint(0x1f600 + i));
      for (const e of emoji) await react(e).expect(200);
      expect((await react('🚀').expect(409)).body.message).toMatch(/reactions/);
      await react(emoji[0], 'alice').expect(200);

      const tombstone = (await request(chat.http).delete(messagesPath(roomId, message.message_id)).set(...bearer('alice')).expect(200)).body as Message;
      expect(tombstone).toMatchObject({ is_deleted: true, content: '', reactions: [] });
      await react('👍').expect(400);
      // Nothing to take away from a tombstone: that changes nothing.
      const taken = await request(chat.http).delete(reactPath(roomId, message.message_id)).query({ emoji: emoji[0] }).set(...bearer('bob')).expect(200);
      expect(taken.body).toEqual({ message_id: message.message_id, reactions: [] });
      for (const emoji of ['👍🏽', '🇫🇷', '1️⃣', '👨‍👩‍👧', ':thumbsup:']) await react(emoji, 'bob', (await post(chat.http, roomId, 'alice', 'x')).message_id).expect(200);
    });

    it('leaves a deleted message’s files out of it: its tombstone hands out no link', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const sent = await post(chat.http, roomId, 'alice', 'look', { message_type: 'image', attachments: ['/files/a.png'] });
      await request(chat.http).delete(messagesPath(roomId, sent.message_id)).set(...bearer('alice')).expect(200);
      const history = await request(chat.last.http).get(messagesPath(roomId)).set(...bearer('bob')).expect(200);
      expect((history.body as { messages: Message[] }).messages).toEqual([expect.objectContaining({ is_deleted: true, attachments: null, reactions: [] })]);
    });

    it('keeps reactions and edits in one order on every instance', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const [onFirst, onLast] = [await chat.connect('bob'), await chat.connect('bob', chat.last)];
      for (const client of [onFirst, onLast]) await join(client, roomId);
      const message = await post(chat.http, roomId, 'alice', 'v0');
      const writes: Array<Promise<unknown>> = [];
      for (let i = 1; i <= 5; i++) {
        writes.push(request(chat.all[i % chat.all.length].http).patch(messagesPath(roomId, message.message_id)).set(...bearer('alice')).send({ content: `v${i}` }).expect(200));
        writes.push(request(chat.all[(i + 1) % chat.all.length].http).post(reactPath(roomId, message.message_id)).query({ emoji: String.fromCodePoint(0x1f600 + i) }).set(...bearer('bob')).expect(200));
      }
      await Promise.all(writes);
      const seen = await Promise.all(
        [onFirst, onLast].map(async (client) => {
          const updates: Message[] = [];
          for (let i = 0; i < 10; i++) updates.push((await client.next('message_updated')).message as Message);
          return updates;
        }),
      );
      expect(seen[1]).toEqual(seen[0]);
      // No write undid another: the last event has every reaction and the stored state is that event's.
      const last = seen[0][9];
      expect(last.reactions).toHaveLength(5);
      const stored = await request(chat.http).get(messagesPath(roomId)).set(...bearer('bob')).expect(200);
      expect((stored.body as { messages: Message[] }).messages[0]).toEqual(last);
      // Every event is a later version than the one before it.
      expect(seen[0].map((m) => m.updated_at)).toEqual([...seen[0].map((m) => m.updated_at)].sort());
    });
  });

  describe('search', () => {
    it('finds messages case-insensitively, newest first, without deleted ones, members only', async () => {
      const roomId = await chat.room('alice', ['bob']);
      const sent: Message[] = [];
      for (const content of ['Hello there', 'nothing here', 'say HELLO', 'hello again', 'bye']) sent.push(await post(chat.http, roomId, 'alice', content));
      await request(chat.http).delete(messagesPath(roomId, sent[3].message_id)).set(...bearer('alice')).expect(200);
      const search = (query: object, user = 'bob') => request(chat.last.http).get(searchPath(roomId)).query(query).set(...bearer(user));

      const found = (await search({ q: 'hello' }).expect(200)).body as { messages: Message[]; total: number; has_more: boolean };
      expect(found.messages.map((m) => m.content)).toEqual(['say HELLO', 'Hello there']);
      expect(found).toMatchObject({ total: 2, has_more: false });
      expect((await search({ q: 'HELLO', limit: 1 }).expect(200)).body).toMatchObject({ total: 2, has_more: true, messages: [{ content: 'say HELLO' }] });
      expect((await search({ q: 'zzz' }).expect(200)).body).toEqual({ messages: [], total: 0, has_more: false });

      await search({ q: 'hello' }, 'mallory').expect(403);
      await search({}).expect(400);
      await search({ q: '' }).expect(400);
      await search({ q: 'x'.repeat(201) }).expect(400);
      await search({ q: 'x', limit: 101 }).expect(400);
    });
  });
});

describe('search reads at most SEARCH_MAX_SCANNED messages', () => {
  const chat = useInstances({ mode: 'redis', count: 1, env: { SEARCH_MAX_SCANNED: 3, RATE_LIMIT_PER_SECOND: 1000 } });

  it('finds only among the newest ones and says older history was left', async () => {
    const roomId = await chat.room('alice', []);
    for (const content of ['needle old', 'hay', 'needle new', 'hay']) await post(chat.http, roomId, 'alice', content);
    const response = await request(chat.http).get(searchPath(roomId)).query({ q: 'needle' }).set(...bearer('alice')).expect(200);
    expect(response.body).toMatchObject({ total: 1, has_more: true, messages: [{ content: 'needle new' }] });
  });
});

describe('search reads at most SEARCH_MAX_SCANNED_CHARS characters of content', () => {
  const chat = useInstances({ env: { SEARCH_MAX_SCANNED_CHARS: 15 } });

  it('finds only among the newest ones within the bound and says older history was left', async () => {
    const roomId = await chat.room('alice', []);
    for (const content of ['needle old', 'needle mid', 'hay']) await post(chat.http, roomId, 'alice', content);
    const response = await request(chat.http).get(searchPath(roomId)).query({ q: 'needle' }).set(...bearer('alice')).expect(200);
    expect(response.body).toMatchObject({ total: 1, has_more: true, messages: [{ content: 'needle mid' }] });
    // A newest message longer than the bound is still read.
    await post(chat.http, roomId, 'alice', 'a needle longer than the bound');
    const longer = await request(chat.http).get(searchPath(roomId)).query({ q: 'needle' }).set(...bearer('alice')).expect(200);
    expect(longer.body).toMatchObject({ total: 1, has_more: true, messages: [{ content: 'a needle longer than the bound' }] });
  });
});

describe('a long search', () => {
  const chat = useInstances({ env: { REST_RATE_LIMIT_PER_MINUTE: 100_000 } });

  it('lets the event loop serve others between its steps', async () => {
    const roomId = await chat.room('alice', ['bob']);
    // 'İ' lowercases to two characters, slowly: about the costliest text to compare. 4 M characters in all.
    const heavy = 'İ'.repeat(4000);
    for (let i = 0; i < 1000; i++) await post(chat.http, roomId, 'alice', heavy);
    const bob = await chat.connect('bob');
    const order: string[] = [];
    const searched = request(chat.http)
      .get(searchPath(roomId))
      .query({ q: 'needle' })
      .set(...bearer('alice'))
      .then((response) => {
        order.push('search');
        return response;
      });
    // Sent while the search runs (it takes tens of ms): answered between two of its steps, not after it.
    await new Promise((resolve) => setTimeout(resolve, 15));
    bob.send({ type: 'ping', ref: 'meanwhile' });
    await bob.next('pong');
    order.push('pong');
    expect((await searched).body).toEqual({ messages: [], total: 0, has_more: false });
    expect(order).toEqual(['pong', 'search']);
  });
});
