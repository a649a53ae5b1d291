import { randomUUID } from 'node:crypto';
import type { Message } from '../../src/chat/protocol.js';

export type { Message };

export const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Message of PROTOCOL §3 for `toEqual`, with `fields` pinned. */
export const messageShape = (fields: Record<string, unknown>): Record<string, unknown> => ({
  message_id: expect.stringMatching(UUID),
  room_id: expect.any(String),
  sender_id: expect.any(String),
  seq: expect.any(Number),
  message_type: 'text',
  content: expect.any(String),
  attachments: null,
  parent_message_id: null,
  thread_count: 0,
  reactions: [],
  is_edited: false,
  is_deleted: false,
  created_at: expect.stringMatching(ISO_DATE),
  updated_at: expect.stringMatching(ISO_DATE),
  client_msg_id: null,
  ...fields,
});

/** Every field of a message as FocusMate reads it (PROTOCOL §3). */
export const MESSAGE_FIELDS = [
  'attachments',
  'client_msg_id',
  'content',
  'created_at',
  'is_deleted',
  'is_edited',
  'message_id',
  'message_type',
  'parent_message_id',
  'reactions',
  'room_id',
  'sender_id',
  'seq',
  'thread_count',
  'updated_at',
];

/** A message as the main backend publishes it on a room's channel (PROTOCOL §6): no epoch of ours. */
export function backendMessage(roomId: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    message_id: randomUUID(),
    room_id: roomId,
    sender_id: 'backend-user',
    message_type: 'text',
    content,
    attachments: null,
    parent_message_id: null,
    thread_count: 0,
    reactions: [],
    is_edited: false,
    is_deleted: false,
    created_at: now,
    updated_at: now,
    ...extra,
  };
}
