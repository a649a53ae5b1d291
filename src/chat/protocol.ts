/**
 * The wire protocol (PROTOCOL.md, v1): every frame the server writes, the
 * error codes and the close codes. Client frames are the DTOs in `dto/`.
 */

import type { Message } from '../core/message.js';
import type { RoomSummary } from '../rooms/rooms.service.js';

/** The message shape is the ground floor's; every frame that carries one uses it. */
export type { Message };

export const ERROR_CODES = [
  'invalid_json',
  'invalid_frame',
  'unknown_type',
  'not_a_member',
  'not_joined',
  'too_many_rooms',
  'content_too_long',
  'rate_limited',
  'token_invalid',
  'unavailable',
  'internal_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The `type` of every client frame (PROTOCOL §2); the gateway has one handler for each. */
export const CLIENT_FRAME_TYPES = ['ping', 'join_room', 'leave_room', 'typing', 'send_message', 'read', 'refresh_token'] as const;
export type ClientFrameType = (typeof CLIENT_FRAME_TYPES)[number];

/** The `type` of every `ServerFrame`, for code and documents that list them (the compiler keeps the two equal). */
export const SERVER_FRAME_TYPES = [
  'connected',
  'pong',
  'joined',
  'left',
  'message',
  'message_updated',
  'message_deleted',
  'history_reset',
  'typing',
  'typing_stopped',
  'presence',
  'presence_state',
  'message_ack',
  'token_refreshed',
  'read',
  'unread',
  'room_added',
  'room_updated',
  'error',
] as const;

export type ServerFrame =
  | {
      type: 'connected';
      message: string;
      user_id: string;
      connection_id: string;
      heartbeat_interval_ms: number;
    }
  | { type: 'pong' }
  | {
      type: 'joined';
      room_id: string;
      seq: number;
      epoch: string;
      recovered: boolean;
      online: string[];
      typing: string[];
    }
  | { type: 'left'; room_id: string; reason?: 'removed' }
  | { type: 'message'; message: Message }
  | { type: 'message_updated'; message: Message }
  | { type: 'message_deleted'; room_id: string; message_id: string }
  /** The room's history was reset (a new epoch) under a joined connection: its messages start again after `seq`. */
  | { type: 'history_reset'; room_id: string; epoch: string; seq: number }
  | { type: 'typing'; room_id: string; user_id: string; is_typing: true }
  | { type: 'typing_stopped'; room_id: string; user_id: string }
  | { type: 'presence'; room_id: string; user_id: string; status: 'online' | 'offline' }
  /** Who is online and typing in a joined room now, after changes may have been missed (the instance lost Redis's pub/sub). */
  | { type: 'presence_state'; room_id: string; online: string[]; typing: string[] }
  | { type: 'message_ack'; client_msg_id: string | null; message: Message }
  | { type: 'token_refreshed'; expires_at: string | null }
  /** A member read the room up to `seq`; the answer to a `read` frame is one too. */
  | { type: 'read'; room_id: string; user_id: string; seq: number }
  /** To the reader's other connections: what is left unread in the room, and over all their rooms. */
  | { type: 'unread'; room_id: string; unread_count: number; total: number }
  | { type: 'room_added' | 'room_updated'; room: RoomSummary }
  | { type: 'error'; code: ErrorCode; message: string; room_id?: string };

type SameMembers<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _serverFrameTypesComplete: SameMembers<(typeof SERVER_FRAME_TYPES)[number], ServerFrame['type']> = true;

/** A frame that answers a client frame carries that frame's `ref`. */
export type Reply = ServerFrame & { ref?: string };

export const CloseCode = {
  normal: 1000,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
  restarting: 1012,
  tryAgainLater: 1013,
} as const;

/**
 * The last message serialized, and its JSON: a sent message's broadcast and
 * its ack follow one another, so it is serialized once for both. One entry
 * only, so no message's JSON outlives the next one (stored history keeps
 * message objects, and must not keep a copy of each as text). Messages are
 * never changed in place (an edit is a new object), so the entry stays true.
 */
let lastMessage: Message | undefined;
let lastJson = '';

function jsonOf(message: Message): string {
  if (message !== lastMessage) {
    lastJson = JSON.stringify(message);
    lastMessage = message;
  }
  return lastJson;
}

/** Serializes a frame; broadcasts call this once and write the string to every socket. */
export function encode(frame: Reply): string {
  const { ref } = frame as { ref?: string };
  const tail = ref === undefined ? '}' : `,"ref":${JSON.stringify(ref)}}`;
  switch (frame.type) {
    case 'message':
      return `{"type":"message","message":${jsonOf(frame.message)}${tail}`;
    case 'message_ack':
      return `{"type":"message_ack","client_msg_id":${JSON.stringify(frame.client_msg_id)},"message":${jsonOf(frame.message)}${tail}`;
    default:
      return JSON.stringify(frame);
  }
}
