import { jest } from '@jest/globals';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import request from 'supertest';
import type { MessageStore } from '../src/messages/message.store.js';
import { join } from './support/client.js';
import { MODES, UNTHROTTLED, useInstances, type Instance } from './support/instances.js';
import { logs } from './support/logs.js';
import { createRoom } from './support/rest.js';
import { draft, messageStoreOf } from './support/store.js';
import { token } from './support/tokens.js';
import { TestClient, type Frame } from './support/ws-client.js';

type Running = Instance & { store: MessageStore; prefix: string };

const api = (running: Running, user: string) => ({
  patch: (path: string, body: object) => request(running.http).patch(`/api/v1/chats${path}`).set('Authorization', `Bearer ${token(user)}`).send(body),
  delete: (path: string) => request(running.http).delete(`/api/v1/chats${path}`).set('Authorization', `Bearer ${token(user)}`),
  get: (path: string) => request(running.http).get(`/api/v1/chats${path}`).set('Authorization', `Bearer ${token(user)}`),
});

/** The room still accepts, stores, edits and deletes a member's message, and the member sees each step. */
async function stillWorks(running: Running, roomId: string, user = 'alice'): Promise<void> {
  const client = await TestClient.connect(running.ws, token(user));
  try {
    await join(client, roomId);
    client.send({ type: 'send_message', room_id: roomId, content: 'still here' });
    const { message } = (await client.next('message_ack')) as Frame & { message: { message_id: string; seq: number } };
    expect((await client.next('message')).message).toMatchObject({ message_id: message.message_id });
    const path = `/rooms/${roomId}/messages/${message.message_id}`;
    expect((await api(running, user).patch(path, { content: 'edited' })).status).toBe(200);
    expect((await client.next('message_updated')).message).toMatchObject({ content: 'edited' });
    expect((await api(running, user).delete(path)).status).toBe(200);
    expect(await client.next('message_deleted')).toMatchObject({ message_id: message.message_id });
    const history = await api(running, user).get(`/rooms/${roomId}/messages?limit=100`);
    expect(history.status).toBe(200);
    expect(history.body.messages.at(-1)).toMatchObject({ message_id: message.message_id, is_deleted: true });
  } finally {
    await client.close();
  }
}

const WEIRD = ['\ud800', '\udc00x', 'a:b', '{tag}', 'x\ny', '%', '%u0041', '__proto__', 'constructor', '', 'x'.repeat(300), '*', '?[]'];
const weirdString = fc.oneof(fc.constantFrom(...WEIRD), fc.string({ unit: 'binary', maxLength: 40 }));
const weirdValue = fc.oneof(
  weirdString,
  fc.constantFrom(1e308, -1, 0.5, Number.MAX_SAFE_INTEGER + 2, 2 ** 53, null, true, [], {}),
  fc.jsonValue({ maxDepth: 2 }),
);

describe.each(MODES)('hostile input on the %s implementation', (mode) => {
  const instances = useInstances({
    mode,
    count: 1,
    env: { ...UNTHROTTLED, HISTORY_MAX_PER_ROOM: 3, RECOVERY_MAX_MESSAGES: 5, RECOVERY_BUDGET_PER_MINUTE: 8 },
  });
  let running: Running;
  beforeAll(() => {
    running = { ...instances.first, store: messageStoreOf(instances.first.app), prefix: instances.prefix };
  });
  afterEach(() => {
    expect(logs.errors()).toEqual([]);
  });

  it('keeps a room working after a stored message with lone surrogates is edited, deleted and trimmed', async () => {
    const roomId = await createRoom(running.http, 'alice', ['bob']);
    const { message } = await running.store.append(draft(roomId, 'bad \ud800', { client_msg_id: '\udc00id' }), 60_000);
    expect(message.content).toBe('bad \ud800');
    // A retry with the same client_msg_id is recognised: the key kept the lone surrogate apart.
    expect((await running.store.append(draft(roomId, 'hello', { client_msg_id: '\udc00id' }), 60_000)).duplicate).toBe(true);
    expect((await running.store.append(draft(roomId, 'hello', { client_msg_id: '\udc01id' }), 60_000)).duplicate).toBe(false);
    const path = `/rooms/${roomId}/messages/${message.message_id}`;
    expect((await api(running, 'alice').patch(path, { content: 'fixed' })).status).toBe(200);
    expect((await api(running, 'alice').delete(path)).status).toBe(200);
    for (let i = 0; i < 5; i++) await running.store.append(draft(roomId, `\ud83d${i}`, { client_msg_id: `c${i}\udfff` }), 60_000);
    await stillWorks(running, roomId);
    await stillWorks(running, roomId, 'bob');
  });

  it('never lets two senders meet in one dedup key (separators in ids)', async () => {
    const roomId = await createRoom(running.http, 'alice', ['eve', 'eve:x', 'eve\nx']);
    const results = await Promise.all([
      running.store.append(draft(roomId, 'hello', { sender_id: 'eve', client_msg_id: 'x:c1' }), 60_000),
      running.store.append(draft(roomId, 'hello', { sender_id: 'eve:x', client_msg_id: 'c1' }), 60_000),
      running.store.append(draft(roomId, 'hello', { sender_id: 'eve', client_msg_id: 'x\nc1' }), 60_000),
      running.store.append(draft(roomId, 'hello', { sender_id: 'eve\nx', client_msg_id: 'c1' }), 60_000),
      running.store.append(draft(roomId, 'hello', { sender_id: 'eve', client_msg_id: 'x%3Ac1' }), 60_000),
    ]);
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false, false, false]);
    expect(new Set(results.map((r) => r.message.seq)).size).toBe(5);
    await stillWorks(running, roomId);
  });

  it('refuses a recovery further behind than RECOVERY_MAX_MESSAGES from the head, without reading history', async () => {
    const roomId = await createRoom(running.http, 'alice', []);
    for (let i = 0; i < 20; i++) await running.store.append(draft(roomId, `m${i}`), 60_000);
    const client = await TestClient.connect(running.ws, token('alice'));
    try {
      const { epoch } = await join(client, roomId);
      client.send({ type: 'leave_room', room_id: roomId });
      await client.next('left');
      const reads = jest.spyOn(running.store, 'readAfter');
      client.send({ type: 'join_room', room_id: roomId, since: { seq: 2, epoch } });
      expect(await client.next('joined')).toMatchObject({ recovered: false, seq: 20 });
      expect(reads).not.toHaveBeenCalled();
      reads.mockRestore();
    } finally {
      await client.close();
    }
  });

  it('shares RECOVERY_BUDGET_PER_MINUTE among the joins of one connection', async () => {
    const roomId = await createRoom(running.http, 'alice', []);
    for (let i = 0; i < 20; i++) await running.store.append(draft(roomId, `m${i}`), 60_000);
    const client = await TestClient.connect(running.ws, token('alice'));
    try {
      const { epoch } = await join(client, roomId);
      const rejoin = async () => {
        client.send({ type: 'leave_room', room_id: roomId });
        await client.next('left');
        client.send({ type: 'join_room', room_id: roomId, since: { seq: 17, epoch } });
        return client.next('joined');
      };
      // Three messages each (the room keeps 3); 8 a minute: 5 left, then 2, and 3 are needed.
      expect(await rejoin()).toMatchObject({ recovered: true });
      expect(client.take('message')).toHaveLength(3);
      expect(await rejoin()).toMatchObject({ recovered: true });
      expect(client.take('message')).toHaveLength(3);
      expect(await rejoin()).toMatchObject({ recovered: false });
      expect(client.take('message')).toHaveLength(0);
    } finally {
      await client.close();
    }
    // Another connection has its own budget.
    const other = await TestClient.connect(running.ws, token('alice'));
    try {
      const { epoch } = (await join(other, roomId)) as Frame & { epoch: string };
      other.send({ type: 'leave_room', room_id: roomId });
      await other.next('left');
      other.send({ type: 'join_room', room_id: roomId, since: { seq: 17, epoch } });
      expect(await other.next('joined')).toMatchObject({ recovered: true });
    } finally {
      await other.close();
    }
  });

  it('survives any sequence of hostile frames: no crash, no ERROR, and the room still works', async () => {
    const roomId = await createRoom(running.http, 'alice', ['bob']);
    const client = await TestClient.connect(running.ws, token('alice'));
    await join(client, roomId);
    const TYPES = ['ping', 'join_room', 'leave_room', 'typing', 'send_message', 'refresh_token', 'constructor', '__proto__'];
    const frame = fc.oneof(
      weirdString,
      fc.record(
        {
          type: fc.constantFrom(...TYPES),
          room_id: fc.oneof(fc.constant(roomId), weirdString),
          content: weirdValue,
          client_msg_id: weirdValue,
          is_typing: weirdValue,
          since: fc.oneof(weirdValue, fc.record({ seq: weirdValue, epoch: weirdValue })),
          ref: weirdValue,
          token: weirdValue,
        },
        { requiredKeys: ['type'] },
      ).map((f) => JSON.stringify(f)),
      fc.constantFrom(
        `{"__proto__":{"polluted":1},"type":"send_message","room_id":"${roomId}","content":"p"}`,
        `{"type":"join_room","room_id":"${roomId}","since":{"seq":1e308,"epoch":"x"}}`,
        `{"type":"send_message","room_id":"${roomId}","content":"\\ud800","client_msg_id":"a:b"}`,
      ),
    );
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(frame, { maxLength: 8 }), async (frames) => {
          if (client.socket.readyState !== client.socket.OPEN) return;
          for (const raw of frames) client.socket.send(raw);
          client.send({ type: 'ping', ref: 'after' });
          let pong: Frame;
          do pong = await client.next('pong');
          while (pong.ref !== 'after');
        }),
        { numRuns: 40 },
      );
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await client.close();
    }
    await stillWorks(running, roomId);
    await stillWorks(running, roomId, 'bob');
  }, 60_000);

  if (mode === 'redis') {
    describe('the room channel', () => {
      let publisher: Redis;
      beforeAll(() => {
        publisher = new Redis(instances.redisUrl);
      });
      afterAll(() => publisher.quit());
      const channel = (roomId: string) => `${running.prefix}chat:room:${roomId}`;

      it('drops a forged seq with the room’s real epoch and keeps delivering the room’s messages', async () => {
        const roomId = await createRoom(running.http, 'alice', []);
        const client = await TestClient.connect(running.ws, token('alice'));
        try {
          const joined = await join(client, roomId);
          client.send({ type: 'send_message', room_id: roomId, content: 'first' });
          const first = (await client.next('message')).message as Record<string, unknown>;
          const forged = { ...first, message_id: 'forged', content: 'forged', seq: 1_000_000_000 };
          expect(await publisher.publish(channel(roomId), JSON.stringify({ type: 'message', epoch: joined.epoch, data: forged }))).toBe(1);
          for (const content of ['second', 'third']) client.send({ type: 'send_message', room_id: roomId, content });
          const next = [await client.next('message'), await client.next('message')].map((f) => f.message as Record<string, unknown>);
          expect(next.map((m) => [m.content, m.seq])).toEqual([
            ['second', 2],
            ['third', 3],
          ]);
          expect(client.frames.some((f) => (f.message as { content?: string } | undefined)?.content === 'forged')).toBe(false);
        } finally {
          await client.close();
        }
      });

      it('checks every field of a payload against its type and its room: no crash, no ERROR, the room still works', async () => {
        const roomId = await createRoom(running.http, 'alice', []);
        const client = await TestClient.connect(running.ws, token('alice'));
        const joined = await join(client, roomId);
        const base = {
          message_id: 'm1', room_id: roomId, sender_id: 'backend', message_type: 'text', content: 'x', attachments: null,
          parent_message_id: null, thread_count: 0, reactions: [], is_edited: false, is_deleted: false,
          created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
        };
        const field = fc.constantFrom(...Object.keys(base), 'seq', '__proto__');
        const payload = fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.record({
            type: fc.constantFrom('message', 'message_updated', 'message_deleted', 'typing', 'typing_stopped', 'presence', 'member_removed', 'toString'),
            epoch: fc.oneof(fc.constant(joined.epoch), weirdValue),
            field,
            value: weirdValue,
          }).map(({ type, epoch, field: name, value }) =>
            JSON.stringify({ type, epoch, data: { ...base, seq: 999_999, user_id: value, connection_id: value, status: value, [name]: value } }),
          ),
        );
        try {
          await fc.assert(
            fc.asyncProperty(fc.array(payload, { maxLength: 6 }), async (payloads) => {
              for (const p of payloads) await publisher.publish(channel(roomId), p);
            }),
            { numRuns: 40 },
          );
          // Only well-formed frames reached the client: every message it got has the full shape.
          client.send({ type: 'send_message', room_id: roomId, content: 'ours' });
          let ours: Frame;
          do ours = await client.next('message');
          while ((ours.message as { content: string }).content !== 'ours');
          for (const frame of client.frames.filter((f) => f.type === 'message' || f.type === 'message_updated')) {
            const message = frame.message as Record<string, unknown>;
            expect(typeof message.content).toBe('string');
            expect(message.room_id).toBe(roomId);
          }
        } finally {
          await client.close();
        }
        await stillWorks(running, roomId);
      }, 60_000);
    });
  }
});
