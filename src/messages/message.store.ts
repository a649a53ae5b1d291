import { newId } from '../core/ids.js';
import { isoTime } from '../core/iso-time.js';
import type { RoomEvent } from '../core/room-event.js';
import type { Message } from '../core/message.js';

export const MESSAGE_STORE = Symbol('MESSAGE_STORE');

/** Changes of a room's messages kept track of for `changedSince`: the latest ones. */
export const CHANGES_KEPT = 1_000;

/** A message before the store gives it its id, seq and timestamps. */
export interface MessageDraft {
  room_id: string;
  sender_id: string;
  content: string;
  message_type: string;
  parent_message_id: string | null;
  client_msg_id: string | null;
  /** URLs of attached files; absent or null for none. */
  attachments?: string[] | null;
}

/** Where a room's history stands. `epoch` changes whenever the history is reset. */
export interface HistoryHead {
  seq: number;
  epoch: string;
  lastMessageAt: string | null;
}

/** Where a room stands for its summary: its latest seq, and its latest retained message as it is now. */
export interface RoomLatest {
  seq: number;
  message: Message | null;
}

/** One page of history, oldest first. `total` counts the room's retained messages. */
export interface HistoryPage {
  messages: Message[];
  total: number;
  hasMore: boolean;
}

/** A new message's reactions: one empty list shared by all (a reaction makes a new list, never changes this one). */
const NO_REACTIONS: Message['reactions'] = Object.freeze([]) as unknown as Message['reactions'];

/** A new message in the PROTOCOL §3 shape. */
export function newMessage(draft: MessageDraft, seq: number, now = Date.now()): Message {
  const at = isoTime(now);
  return {
    message_id: newId(),
    room_id: draft.room_id,
    sender_id: draft.sender_id,
    seq,
    message_type: draft.message_type,
    content: draft.content,
    attachments: draft.attachments ?? null,
    parent_message_id: draft.parent_message_id,
    thread_count: 0,
    reactions: NO_REACTIONS,
    is_edited: false,
    is_deleted: false,
    created_at: at,
    updated_at: at,
    client_msg_id: draft.client_msg_id,
  };
}

/** The event that announces a changed message. */
export function changeEvent(message: Message, event: 'message_updated' | 'message_deleted'): RoomEvent {
  return event === 'message_updated'
    ? { type: event, data: message }
    : { type: event, data: { room_id: message.room_id, message_id: message.message_id } };
}

export interface AppendResult {
  message: Message;
  duplicate: boolean;
  /**
   * From a store that `endsTyping`: the connection the sender's shared
   * typing in the room came from, when the append ended one and left its
   * `typing_stopped` to the caller (it publishes it itself when it publishes
   * the message).
   */
  typingEnded?: string;
}

/**
 * Each room's message history, shared by every instance.
 *
 * Order: `append` assigns the room's next `seq` and publishes the `message`
 * event on the room's bus channel in one atomic step, so publish order is
 * `seq` order on every instance. Retention is bounded per room; the oldest
 * messages go first.
 */
export interface MessageStore {
  /**
   * True when `append` also ends the sender's shared typing in the room
   * (Redis: in the same script, saving a round trip per message) and
   * announces it, or reports it in `typingEnded` for the caller to.
   */
  readonly endsTyping?: boolean;
  /**
   * True when `append` also moves the sender's read position to the new
   * message (Redis: the read store's hash, in the same script), so no
   * separate write is needed for "one's own messages are never unread".
   */
  readonly marksSenderRead?: boolean;
  /**
   * Stores and publishes the draft. If the sender already used the draft's
   * `client_msg_id` in the room within `dedupWindowMs`, stores and publishes
   * nothing and returns the original with `duplicate: true`.
   */
  append(draft: MessageDraft, dedupWindowMs: number): Promise<AppendResult>;
  /** Where the room's history stands; gives a room without history its epoch (a write). */
  head(roomId: string): Promise<HistoryHead>;
  /** Where each room stands, in the order given, in one round trip that writes nothing. */
  latest(roomIds: string[]): Promise<RoomLatest[]>;
  /**
   * Up to `limit` messages with a seq above `afterSeq`, oldest first.
   * `complete` is false when retention already dropped some of them.
   */
  readAfter(
    roomId: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ head: HistoryHead; messages: Message[]; complete: boolean }>;
  /** A retained message by id, as it is now (edited, tombstoned). */
  get(roomId: string, messageId: string): Promise<Message | undefined>;
  /**
   * Stores a new state of a message (edit, tombstone) and publishes `event`
   * for it, only if the stored one is still the version `message` was made
   * from (same `updated_at` as `previous`); false if it changed meanwhile.
   * Edits, deletions and reactions all go through here, so their events
   * keep the order of the writes.
   */
  replace(message: Message, previous: Message, event: 'message_updated' | 'message_deleted'): Promise<boolean>;
  /**
   * Retained messages changed (edited, deleted, reacted to) at or after
   * `sinceMs` by their `updated_at`, as they are now, oldest change first,
   * at most `limit` (a store may keep track of only the latest `CHANGES_KEPT` changes per room).
   */
  changedSince(roomId: string, sinceMs: number, limit: number): Promise<Message[]>;
  /** The newest `limit` messages with a seq below `beforeSeq` (or the newest overall). */
  page(roomId: string, beforeSeq: number | undefined, limit: number): Promise<HistoryPage>;
}
