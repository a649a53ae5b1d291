/** A chat message as every client sees it (PROTOCOL §3). */
export interface Message {
  message_id: string;
  room_id: string;
  sender_id: string;
  /** Position in the room, 1, 2, 3 … without gaps; absent on events of the main backend. */
  seq?: number;
  message_type: string;
  content: string;
  attachments: unknown[] | null;
  parent_message_id: string | null;
  thread_count: number;
  reactions: unknown[];
  is_edited: boolean;
  is_deleted: boolean;
  created_at: string;
  updated_at: string;
  client_msg_id: string | null;
}

/** Message types (PROTOCOL §3); a client sends `system` only with a service token. */
export const MESSAGE_TYPES = ['text', 'image', 'file', 'system'] as const;
/** Files a message may carry, and the longest link to one (PROTOCOL §3). */
export const MAX_ATTACHMENTS = 10;
export const MAX_ATTACHMENT_LENGTH = 2048;
/** Distinct emoji on one message; one more is refused (`limit_reached`). */
export const MAX_REACTIONS_PER_MESSAGE = 50;
/** Longest emoji, in UTF-16 code units (a family or a flag with modifiers fits). */
export const MAX_EMOJI_LENGTH = 32;
