import { jest } from '@jest/globals';
import { newMessage } from '../messages/message.store.js';
import { encode, type Reply } from './protocol.js';

const message = newMessage(
  { room_id: 'r1', sender_id: 'alice', content: 'say "hi" \\ \u2028 😀', message_type: 'text', parent_message_id: null, client_msg_id: 'c "1"' },
  7,
);

describe(encode.name, () => {
  it('writes a message and its ack as JSON.stringify would, with or without a ref, serializing the message once', () => {
    const frames: Reply[] = [
      { type: 'message', message },
      { type: 'message', message, ref: 'r "x"' },
      { type: 'message_ack', client_msg_id: 'c "1"', message },
      { type: 'message_ack', client_msg_id: null, message, ref: 'a' },
      { type: 'pong', ref: 'p' },
    ];
    for (const frame of frames) expect(JSON.parse(encode(frame))).toEqual(JSON.parse(JSON.stringify(frame)));
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const other = { ...message, message_id: 'm2' };
      encode({ type: 'message', message: other });
      encode({ type: 'message_ack', client_msg_id: null, message: other });
      expect(stringify.mock.calls.filter(([value]) => value === other)).toHaveLength(1);
    } finally {
      stringify.mockRestore();
    }
  });
});
