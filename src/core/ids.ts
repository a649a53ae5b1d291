import { randomUUID } from 'node:crypto';

/** Longest room, user-supplied message and client message id accepted from outside. */
export const MAX_ID_LENGTH = 128;

/** A room id is one this service made: a lowercase UUID (`newId`). */
export const ROOM_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids a client chooses (`client_msg_id`) or names (message ids): 1–128 of `A–Z a–z 0–9 . _ : -`. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function isRoomId(value: unknown): value is string {
  return typeof value === 'string' && ROOM_ID_PATTERN.test(value);
}

/** A new id for a room, a message, a connection, an instance or a history epoch. */
export function newId(): string {
  // randomUUID joins its result from ~20 pieces, which V8 keeps as a tree of
  // strings (about 490 bytes for as long as the id lives); toLowerCase, a
  // no-op on its lowercase hex, returns it as one flat string (about 64 bytes).
  return randomUUID().toLowerCase();
}
