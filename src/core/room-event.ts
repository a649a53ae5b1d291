import type { Message } from './message.js';

/**
 * What travels on a room's channel (`chat:room:<room_id>`). The first three
 * shapes are also what the main backend publishes (PROTOCOL §6); the rest
 * are this service's own. The message store's Lua scripts write the
 * `message` event in the same shape.
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
  | { type: 'member_removed'; data: { user_id: string } };

export type RoomEventListener = (roomId: string, event: RoomEvent) => void;

/** The events that become frames on the room's sockets (a removal makes connections leave instead). */
export type DeliveredEvent = Exclude<RoomEvent, { type: 'member_removed' }>;

/** The one encoding of a room event on a channel. */
export function encodeRoomEvent(event: RoomEvent): string {
  return JSON.stringify(event);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Decodes and checks a payload from a channel (another process wrote it); undefined for anything malformed. */
export function decodeRoomEvent(payload: string): RoomEvent | undefined {
  let event: unknown;
  try {
    event = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!isObject(event) || !isObject(event.data)) return undefined;
  const data = event.data;
  switch (event.type) {
    case 'message':
    case 'message_updated':
    case 'message_deleted':
      return isString(data.message_id) && isString(data.room_id) ? (event as RoomEvent) : undefined;
    case 'typing':
    case 'typing_stopped':
      return isString(data.user_id) && isString(data.connection_id) ? (event as RoomEvent) : undefined;
    case 'member_removed':
      return isString(data.user_id) ? (event as RoomEvent) : undefined;
    case 'presence':
      return isString(data.user_id) && (data.status === 'online' || data.status === 'offline')
        ? (event as RoomEvent)
        : undefined;
    default:
      return undefined;
  }
}
