import type { Message } from '../chat/protocol.js';

export const MESSAGE_STORE = Symbol('MESSAGE_STORE');

/** A message before the store gives it its id, seq and timestamps. */
export interface MessageDraft {
  room_id: string;
  sender_id: string;
  content: string;
  message_type: string;
  parent_message_id: string | null;
  client_msg_id: string | null;
}

/** Where a room's history stands. `epoch` changes whenever the history is reset. */
export interface HistoryHead {
  seq: number;
  epoch: string;
  lastMessageAt: string | null;
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
   * Stores and publishes the draft. If the sender already used the draft's
   * `client_msg_id` in the room within `dedupWindowMs`, stores and publishes
   * nothing and returns the original with `duplicate: true`.
   */
  append(draft: MessageDraft, dedupWindowMs: number): Promise<{ message: Message; duplicate: boolean }>;
  head(roomId: string): Promise<HistoryHead>;
  /**
   * Up to `limit` messages with a seq above `afterSeq`, oldest first.
   * `complete` is false when retention already dropped some of them.
   */
  readAfter(
    roomId: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ head: HistoryHead; messages: Message[]; complete: boolean }>;
}
