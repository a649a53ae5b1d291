import { decodeRoomEvent } from './room-event.js';

/** A message as the main backend publishes it (PROTOCOL §6): no seq, no epoch. */
const backendMessage = {
  message_id: 'b-1',
  room_id: 'room-1',
  sender_id: 'backend',
  message_type: 'text',
  content: 'hello',
  attachments: null,
  parent_message_id: null,
  thread_count: 0,
  reactions: [],
  is_edited: false,
  is_deleted: false,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};

const decode = (data: object, type = 'message') => decodeRoomEvent(JSON.stringify({ type, data }), 'room-1');

describe('a message from the room channel (PROTOCOL §6: every field checked against §3)', () => {
  it('passes a well-formed message on, rebuilt from its known fields', () => {
    const reactions = [{ emoji: '👍', users: ['alice', 'bob'], count: 2, extra: 'dropped' }];
    const event = decode({ ...backendMessage, attachments: ['/a.png'], reactions, created_at: '2026-01-01T00:00:00.123456+02:00', junk: 1 });
    expect(event).toEqual({
      type: 'message',
      data: {
        ...backendMessage,
        attachments: ['/a.png'],
        reactions: [{ emoji: '👍', users: ['alice', 'bob'], count: 2 }],
        created_at: '2026-01-01T00:00:00.123456+02:00',
      },
    });
    expect(decode({ ...backendMessage, attachments: [] })).toEqual({ type: 'message', data: backendMessage });
    // A seq of the backend's own is not one of the room's: left out (without an epoch, it is not this service's).
    expect(decode({ ...backendMessage, seq: 9_007_199_254_740_991 })).toEqual({ type: 'message', data: backendMessage });
    for (const messageType of ['image', 'file', 'system']) expect(decode({ ...backendMessage, message_type: messageType })).toBeDefined();
  });

  it.each([
    ['an attachment that is not a string', { attachments: [1] }],
    ['an empty attachment', { attachments: [''] }],
    ['more than 10 attachments', { attachments: Array.from({ length: 11 }, (_, i) => `/f${i}`) }],
    ['an attachment over 2048 characters', { attachments: ['x'.repeat(2049)] }],
    ['a reaction whose emoji is not a string', { reactions: [{ emoji: 1, users: ['a'], count: 1 }] }],
    ['a reaction without users', { reactions: [{ emoji: '👍', count: 1 }] }],
    ['a reaction with a user that is not an id', { reactions: [{ emoji: '👍', users: [{}], count: 1 }] }],
    ['a reaction with a negative count', { reactions: [{ emoji: '👍', users: ['a'], count: -1 }] }],
    ['a reaction whose emoji is over 32 units', { reactions: [{ emoji: '👍'.repeat(17), users: ['a'], count: 1 }] }],
    ['more than 50 reactions', { reactions: Array.from({ length: 51 }, (_, i) => ({ emoji: `:e${i}:`, users: ['a'], count: 1 })) }],
    ['a message type §3 does not have', { message_type: '<img onerror>' }],
    ['a created_at that is not a time', { created_at: 'yesterday' }],
    ['an updated_at that is not a date', { updated_at: '2026-13-45T99:99:99Z' }],
    ['content longer than any MAX_MESSAGE_LENGTH', { content: 'x'.repeat(1_000_001) }],
    ['an empty id', { sender_id: '' }],
    ['content with a lone surrogate', { content: 'broken \ud800 text' }],
    ['a sender id with a lone surrogate', { sender_id: '\udc00' }],
    ['a reaction emoji with a lone surrogate', { reactions: [{ emoji: '\ud83d', users: ['a'], count: 1 }] }],
  ])('drops %s', (_what, change) => {
    expect(decode({ ...backendMessage, ...change })).toBeUndefined();
    expect(decode({ ...backendMessage, ...change }, 'message_updated')).toBeUndefined();
  });
});
