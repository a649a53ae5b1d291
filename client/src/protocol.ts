/**
 * The frames of the chat protocol (docs/PROTOCOL.md, v1) as a client sees
 * them. Kept free of server imports so this folder stands alone.
 */

/** A chat message (PROTOCOL §3). */
export interface Message {
  message_id: string;
  room_id: string;
  sender_id: string;
  /** Position in the room, 1, 2, 3 … without gaps; absent on events the main backend publishes. */
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

/** Where a client stands in a room's history. */
export interface Cursor {
  seq: number;
  epoch: string;
}

export type ServerFrame = { ref?: string } & (
  | { type: 'connected'; user_id: string; connection_id: string; heartbeat_interval_ms: number }
  | { type: 'pong' }
  | { type: 'joined'; room_id: string; seq: number; epoch: string; recovered: boolean; online: string[]; typing: string[] }
  | { type: 'left'; room_id: string; reason?: 'removed' }
  | { type: 'message'; message: Message }
  | { type: 'message_updated'; message: Message }
  | { type: 'message_deleted'; room_id: string; message_id: string }
  | { type: 'history_reset'; room_id: string; epoch: string; seq: number }
  | { type: 'typing'; room_id: string; user_id: string }
  | { type: 'typing_stopped'; room_id: string; user_id: string }
  | { type: 'presence'; room_id: string; user_id: string; status: 'online' | 'offline' }
  | { type: 'presence_state'; room_id: string; online: string[]; typing: string[] }
  | { type: 'message_ack'; client_msg_id: string | null; message: Message }
  | { type: 'token_refreshed'; expires_at: string | null }
  | { type: 'error'; code: string; message: string; room_id?: string }
);

export type ClientFrame = { ref?: string } & (
  | { type: 'ping' }
  | { type: 'join_room'; room_id: string; since?: Cursor }
  | { type: 'leave_room'; room_id: string }
  | { type: 'typing'; room_id: string; is_typing: boolean }
  | {
      type: 'send_message';
      room_id: string;
      content: string;
      client_msg_id: string;
      message_type?: string;
      parent_message_id?: string;
    }
  | { type: 'refresh_token'; token: string }
);

/** Close codes the server uses (PROTOCOL §4). */
export const CloseCode = { normal: 1000, policy: 1008, tooBig: 1009, restarting: 1012 } as const;

/** The subprotocol that carries the token in a browser's handshake (PROTOCOL §1). */
export const ACCESS_TOKEN_PROTOCOL = 'access_token';
