import request from 'supertest';
import { join } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
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
