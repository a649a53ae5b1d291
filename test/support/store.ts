import type { INestApplication } from '@nestjs/common';
import { MESSAGE_STORE, type MessageDraft, type MessageStore } from '../../src/messages/message.store.js';

/** A message draft as a client's `send_message` makes it: from alice, text, no thread, no client id unless `fields` say so. */
export const draft = (roomId: string, content = 'hello', fields: Partial<MessageDraft> = {}): MessageDraft => ({
  room_id: roomId,
  sender_id: 'alice',
  content,
  message_type: 'text',
  parent_message_id: null,
  client_msg_id: null,
  ...fields,
});

/** The message store of a running app, for tests that fill or slow a history directly. */
export const messageStoreOf = (app: INestApplication): MessageStore => app.get<MessageStore>(MESSAGE_STORE, { strict: false });
