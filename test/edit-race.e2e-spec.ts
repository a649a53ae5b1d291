import { Redis } from 'ioredis';
import request from 'supertest';
import type { Message } from '../src/core/message.js';
import { ask, join } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
import { redisUrl } from './support/redis.js';
import { bearer, fullHistory, messagesPath, post } from './support/rest.js';

describe.each(MODES)('an edit racing a delete (%s)', (mode) => {
  const cluster = useInstances({ mode });

  it('never brings a deleted message back', async () => {
    const roomId = await cluster.room('alice', ['bob']);
    const observer = await cluster.connect('bob', cluster.last);
    await join(observer, roomId);
    const sent = await Promise.all(Array.from({ length: 10 }, (_, i) => post(cluster.first.http, roomId, 'alice', `m${i}`)));
    await Promise.all(
      sent.flatMap((message) => [
        request(cluster.first.http).patch(messagesPath(roomId, message.message_id)).set(...bearer('alice')).send({ content: 'edited' }),
        request(cluster.last.http).delete(messagesPath(roomId, message.message_id)).set(...bearer('alice')),
      ]),
    );

    const history = await fullHistory(cluster.first.http, roomId, 'alice');
    expect(history.map((m) => [m.is_deleted, m.content])).toEqual(sent.map(() => [true, '']));
    for (let i = 0; i < sent.length; i++) await observer.next('message_deleted');
    await observer.nothing(300, 'message_deleted');
    const changes = observer.frames.filter((f) => f.type === 'message_updated' || f.type === 'message_deleted');
    for (const message of sent) {
      const mine = changes.filter((f) => (f.message as { message_id?: string } | undefined)?.message_id === message.message_id || f.message_id === message.message_id);
      expect(mine.at(-1)?.type).toBe('message_deleted');
    }
  });
});

describe('changes to a message whose stored history is damaged or trimmed (redis)', () => {
  const cluster = useInstances({ mode: 'redis', env: { HISTORY_MAX_PER_ROOM: '3', DEDUP_WINDOW_MS: '1000' } });
  let admin: Redis;
  beforeAll(async () => {
    admin = new Redis(await redisUrl());
  });
  afterAll(() => admin.quit());
  const key = (roomId: string, part: string) => `${cluster.prefix}chat:{${roomId}}:${part}`;
  const edit = (roomId: string, messageId: string, content: string) =>
    request(cluster.first.http).patch(messagesPath(roomId, messageId)).set(...bearer('alice')).send({ content });

  it('edits a message whose versions or edits were lost with their key, instead of retrying for ever', async () => {
    const roomId = await cluster.room('alice', ['bob']);
    const message = await post(cluster.first.http, roomId, 'alice', 'first');
    await admin.del(key(roomId, 'versions'));
    expect((await edit(roomId, message.message_id, 'second')).status).toBe(200);
    await admin.del(key(roomId, 'versions'));
    expect((await edit(roomId, message.message_id, 'third')).status).toBe(200);
    await admin.del(key(roomId, 'edits'));
    expect((await edit(roomId, message.message_id, 'fourth')).status).toBe(200);
    const history = await fullHistory(cluster.first.http, roomId, 'alice');
    expect(history.map((m) => m.content)).toEqual(['fourth']);
  });

  it('answers a retried send with the message as it is now, deleted, after it left the retained history', async () => {
    const roomId = await cluster.room('alice', ['bob']);
    const alice = await cluster.connect('alice');
    await join(alice, roomId);
    const send = () => ask(alice, { type: 'send_message', room_id: roomId, content: 'with a file', client_msg_id: 'photo-1' });
    const sent = (await send()).message as Message;
    await request(cluster.first.http).delete(messagesPath(roomId, sent.message_id)).set(...bearer('alice')).expect(200);
    for (let i = 0; i < 3; i++) await post(cluster.first.http, roomId, 'alice', `later ${i}`);
    expect((await fullHistory(cluster.first.http, roomId, 'alice')).map((m) => m.message_id)).not.toContain(sent.message_id);
    const retried = await send();
    expect(retried).toMatchObject({ type: 'message_ack', message: { message_id: sent.message_id, is_deleted: true, content: '' } });
  });

  it('keeps a client_msg_id used again after its window for the new message: a change of the old one does not take it', async () => {
    const roomId = await cluster.room('alice', ['bob']);
    const alice = await cluster.connect('alice');
    await join(alice, roomId);
    const send = (content: string) => ask(alice, { type: 'send_message', room_id: roomId, content, client_msg_id: 'again' });
    const first = (await send('first')).message as Message;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = (await send('second')).message as Message;
    expect(second.message_id).not.toBe(first.message_id);
    expect((await edit(roomId, first.message_id, 'first, edited')).status).toBe(200);
    expect(await send('second')).toMatchObject({ type: 'message_ack', message: { message_id: second.message_id, content: 'second' } });
  });
});
