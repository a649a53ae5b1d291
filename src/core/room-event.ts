import { isoMillis } from './iso-time.js';
import { inputProblem } from './text.js';
import { MAX_ATTACHMENTS, MAX_ATTACHMENT_LENGTH, MAX_EMOJI_LENGTH, MAX_REACTIONS_PER_MESSAGE, MESSAGE_TYPES, type Message } from './message.js';

/**
 * What travels on a room's channel (`chat:room:<room_id>`). The first three
 * shapes are also what the main backend publishes (PROTOCOL §6); the rest
 * are this service's own.
 */
export type RoomEvent =
  /** `epoch` is set on this service's messages (those with a `seq`). */
  | { type: 'message'; data: Message; epoch?: string }
  | { type: 'message_updated'; data: Message }
  | { type: 'message_deleted'; data: { room_id: string; message_id: string } }
  /** `connection_id` is the sender's connection, which never gets its own typing back. */
  | { type: 'typing'; data: { user_id: string; connection_id: string } }
  /** Goes to the same connections as the start it ends. */
  | { type: 'typing_stopped'; data: { user_id: string; connection_id: string } }
  /** `connection_id` is the connection whose join or leave changed it; it already knows. */
  | { type: 'presence'; data: { user_id: string; status: 'online' | 'offline'; connection_id: string } }
  /** The user was removed from the room: their connections leave it. */
  | { type: 'member_removed'; data: { user_id: string } }
  /** The user has read the room up to `seq` ("seen by"). */
  | { type: 'read'; data: { user_id: string; seq: number } };

export type RoomEventListener = (roomId: string, event: RoomEvent) => void;

/** The events that become frames on the room's sockets (a removal makes connections leave instead). */
export type DeliveredEvent = Exclude<RoomEvent, { type: 'member_removed' }>;

/** Longest id-like string (ids, epochs, timestamps, message types) accepted from a channel or a stored value. */
export const MAX_EVENT_ID_LENGTH = 256;
/** Longest `content` accepted from a channel: the largest MAX_MESSAGE_LENGTH allowed. */
export const MAX_EVENT_CONTENT_LENGTH = 1_000_000;
/** Most users on one reaction accepted from a channel: the largest MAX_MEMBERS_PER_ROOM allowed. */
export const MAX_EVENT_REACTION_USERS = 100_000;
/** Longest payload decoded at all; anything larger is dropped before parsing. */
export const MAX_EVENT_PAYLOAD_LENGTH = 8 * 1024 * 1024;

/** The one encoding of a room event on a channel. */
export function encodeRoomEvent(event: RoomEvent): string {
  return JSON.stringify(event);
}

/** The one encoding of a stored message. */
export function encodeMessage(message: Message): string {
  return JSON.stringify(message);
}

/**
 * A message and its `message` event with the seq and the epoch left open,
 * for the store that assigns both in one atomic step and only concatenates:
 * message JSON = `message[0] .. seq .. message[1]`;
 * event JSON = `event[0] .. epoch .. event[1] .. <message JSON> .. event[2]`.
 * Epochs are ids this service makes (`newId`), which need no escaping.
 * Both are made by the encoders above, with marks in the open slots.
 */
export interface MessageEventTemplate {
  message: [string, string];
  event: [string, string, string];
}

const SEQ_MARK = '\u0001seq';
const EPOCH_MARK = '\u0001epoch';
const DATA_MARK = '\u0001data';

export function messageEventTemplate(message: Omit<Message, 'seq'>): MessageEventTemplate {
  // `seq` first and the event's `data` last: everything before each mark is fixed text, so the first match is the slot.
  const json = encodeMessage({ seq: SEQ_MARK as unknown as number, ...message });
  const event = encodeRoomEvent({ type: 'message', epoch: EPOCH_MARK, data: DATA_MARK as unknown as Message });
  return { message: splitOnce(json, JSON.stringify(SEQ_MARK)), event: splitTwice(event, JSON.stringify(EPOCH_MARK).slice(1, -1), JSON.stringify(DATA_MARK)) };
}

const USER_MARK = '\u0001user';
const CONNECTION_MARK = '\u0001connection';

/**
 * A `typing_stopped` event around its two open slots, for a script that
 * learns the user and the connection itself and encodes each as a JSON
 * string: event JSON = `parts[0] .. "<user>" .. parts[1] .. "<connection>" .. parts[2]`.
 */
export function typingStoppedTemplate(): [string, string, string] {
  const event = encodeRoomEvent({ type: 'typing_stopped', data: { user_id: USER_MARK, connection_id: CONNECTION_MARK } });
  return splitTwice(event, JSON.stringify(USER_MARK), JSON.stringify(CONNECTION_MARK));
}

function splitOnce(text: string, mark: string): [string, string] {
  const at = text.indexOf(mark);
  return [text.slice(0, at), text.slice(at + mark.length)];
}

function splitTwice(text: string, first: string, second: string): [string, string, string] {
  const [head, rest] = splitOnce(text, first);
  return [head, ...splitOnce(rest, second)];
}

type Fields = Record<string, unknown>;

/** Checks of what is read back from Redis (a channel, a stored value), shared with the room store's. */
export const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
export const isId = (v: unknown): v is string => isText(v, MAX_EVENT_ID_LENGTH) && v.length > 0;
const isShort = (v: unknown): v is string => isText(v, MAX_EVENT_ID_LENGTH);
const isIdOrNull = (v: unknown): v is string | null => v === null || isId(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const MESSAGE_TYPE_SET = new Set<unknown>(MESSAGE_TYPES);
/** An ISO 8601 time with its offset, as `toISOString` writes it (the main backend may write other precisions or offsets). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
// `isoMillis`, not `Date.parse`: this runs for two times of every message decoded, at the message rate.
export const isTime = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_EVENT_ID_LENGTH && ISO_TIME.test(v) && !Number.isNaN(isoMillis(v));

/** `null`, or 1–10 links (an empty list is `null`); undefined if not that. */
function toAttachments(v: unknown): string[] | null | undefined {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length > MAX_ATTACHMENTS) return undefined;
  for (const link of v) if (!isText(link, MAX_ATTACHMENT_LENGTH) || link.length === 0) return undefined;
  return v.length === 0 ? null : (v as string[]);
}

/** `[{emoji, users, count}]` rebuilt with those fields only; undefined if any entry is not one. */
function toReactions(v: unknown): Array<{ emoji: string; users: string[]; count: number }> | undefined {
  if (!Array.isArray(v) || v.length > MAX_REACTIONS_PER_MESSAGE) return undefined;
  const reactions = [];
  for (const r of v) {
    if (!isObject(r) || !isText(r.emoji, MAX_EMOJI_LENGTH) || r.emoji.length === 0 || !isCount(r.count)) return undefined;
    if (!Array.isArray(r.users) || r.users.length > MAX_EVENT_REACTION_USERS || !r.users.every(isId)) return undefined;
    reactions.push({ emoji: r.emoji, users: r.users as string[], count: r.count });
  }
  return reactions;
}

/**
 * A Message (PROTOCOL §3) checked field by field (strings of bounded length,
 * `message_type` one of §3's, times ISO 8601, attachments and reactions in
 * §3's shape and bounds) and rebuilt with exactly
 * its own fields (nothing else of the input, prototype keys included, is
 * kept); undefined if any field has the wrong type or length. `seq` may be
 * absent (the main backend's messages); `parent_message_id` and
 * `attachments` may be absent (null), `client_msg_id` too (left out).
 */
export function toMessage(data: unknown): Message | undefined {
  if (!isObject(data)) return undefined;
  const d = data;
  const ok =
    isId(d.message_id) &&
    isId(d.room_id) &&
    isId(d.sender_id) &&
    (d.seq === undefined || isSeq(d.seq)) &&
    MESSAGE_TYPE_SET.has(d.message_type) &&
    isText(d.content, MAX_EVENT_CONTENT_LENGTH) &&
    (d.parent_message_id === undefined || isIdOrNull(d.parent_message_id)) &&
    isCount(d.thread_count) &&
    typeof d.is_edited === 'boolean' &&
    typeof d.is_deleted === 'boolean' &&
    isTime(d.created_at) &&
    isTime(d.updated_at) &&
    (d.client_msg_id === undefined || isIdOrNull(d.client_msg_id));
  if (!ok) return undefined;
  const attachments = toAttachments(d.attachments);
  const reactions = toReactions(d.reactions);
  if (attachments === undefined || reactions === undefined) return undefined;
  const message: Message = {
    message_id: d.message_id as string,
    room_id: d.room_id as string,
    sender_id: d.sender_id as string,
    ...(d.seq === undefined ? {} : { seq: d.seq as number }),
    message_type: d.message_type as string,
    content: d.content as string,
    attachments,
    parent_message_id: (d.parent_message_id ?? null) as string | null,
    thread_count: d.thread_count as number,
    reactions,
    is_edited: d.is_edited as boolean,
    is_deleted: d.is_deleted as boolean,
    created_at: d.created_at as string,
    updated_at: d.updated_at as string,
    client_msg_id: (d.client_msg_id ?? null) as string | null,
  };
  // The main backend's messages may leave it out; they are passed on as they came.
  if (d.client_msg_id === undefined) delete (message as Partial<Message>).client_msg_id;
  return message;
}

/** A stored message read back from Redis; undefined if it is not one. */
export function decodeMessage(json: string): Message | undefined {
  try {
    return toMessage(JSON.parse(json));
  } catch {
    return undefined;
  }
}

/**
 * Decodes and checks a payload from the channel of `roomId` (another
 * process wrote it); undefined for anything malformed: not JSON, an unknown
 * type, a field of the wrong type or length, a message of another room, an
 * epoch without a `seq`. The event is rebuilt from its known fields only; a
 * message without an epoch (the main backend's) loses any `seq` it carries.
 */
export function decodeRoomEvent(payload: string, roomId: string): RoomEvent | undefined {
  const event = roomEventOf(payload, roomId);
  // Its text well-formed too, as PROTOCOL §2 requires of what clients send (stored messages are read back
  // without this: the room's catch-up still delivers one that went into the store some other way).
  return event && inputProblem(event) === undefined ? event : undefined;
}

function roomEventOf(payload: string, roomId: string): RoomEvent | undefined {
  if (payload.length > MAX_EVENT_PAYLOAD_LENGTH) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!isObject(event) || !isObject(event.data)) return undefined;
  const data = event.data;
  switch (event.type) {
    case 'message': {
      const message = toMessage(data);
      if (!message || message.room_id !== roomId) return undefined;
      if (event.epoch === undefined) {
        // The main backend's message has no seq of ours: one it carries would clash with the room's own.
        delete message.seq;
        return { type: 'message', data: message };
      }
      if (!isId(event.epoch) || message.seq === undefined) return undefined;
      return { type: 'message', data: message, epoch: event.epoch };
    }
    case 'message_updated': {
      const message = toMessage(data);
      return message && message.room_id === roomId ? { type: 'message_updated', data: message } : undefined;
    }
    case 'message_deleted':
      return isId(data.message_id) && data.room_id === roomId
        ? { type: 'message_deleted', data: { room_id: roomId, message_id: data.message_id } }
        : undefined;
    case 'typing':
    case 'typing_stopped':
      return isId(data.user_id) && isShort(data.connection_id)
        ? { type: event.type, data: { user_id: data.user_id, connection_id: data.connection_id } }
        : undefined;
    case 'member_removed':
      return isId(data.user_id) ? { type: 'member_removed', data: { user_id: data.user_id } } : undefined;
    case 'read':
      return isId(data.user_id) && isCount(data.seq) ? { type: 'read', data: { user_id: data.user_id, seq: data.seq } } : undefined;
    case 'presence':
      return isId(data.user_id) && (data.status === 'online' || data.status === 'offline') && isShort(data.connection_id ?? '')
        ? { type: 'presence', data: { user_id: data.user_id, status: data.status, connection_id: (data.connection_id ?? '') as string } }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * What travels on a user's channel (`chat:user:<user_id>`): news for every
 * connection of that user, whichever rooms it joined. Room events name the
 * room only; each instance builds the summary for its own connections.
 */
export type UserEvent =
  /**
   * The user's unread counts changed (they read the room). `connection_id`:
   * the connection that read, which already knows. The counts are read by
   * each instance as it delivers, so the last delivered are the latest.
   */
  | { type: 'unread'; data: { room_id: string; connection_id: string } }
  | { type: 'room_added' | 'room_updated'; data: { room_id: string } };

export type UserEventListener = (userId: string, event: UserEvent) => void;

export function encodeUserEvent(event: UserEvent): string {
  return JSON.stringify(event);
}

/** Decodes and checks a payload from a user's channel; undefined for anything malformed. */
export function decodeUserEvent(payload: string): UserEvent | undefined {
  if (payload.length > MAX_EVENT_ID_LENGTH * 8) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!isObject(event) || !isObject(event.data) || !isId(event.data.room_id)) return undefined;
  const data = event.data;
  const roomId = event.data.room_id;
  switch (event.type) {
    case 'unread':
      return isShort(data.connection_id) ? { type: 'unread', data: { room_id: roomId, connection_id: data.connection_id } } : undefined;
    case 'room_added':
    case 'room_updated':
      return { type: event.type, data: { room_id: roomId } };
    default:
      return undefined;
  }
}
