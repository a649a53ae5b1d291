import { randomFillSync } from 'node:crypto';
import { isWellFormed } from './text.js';

/** Longest room, user-supplied message and client message id accepted from outside. */
export const MAX_ID_LENGTH = 128;

/** Longest user id: a token's `sub` (PROTOCOL §1), and so every field that names a user. */
export const MAX_USER_ID_LENGTH = 256;

/**
 * User ids no URL path can carry: browsers resolve `.` and `..` segments
 * (escaped or not) before sending, so `/members/..` could never name the user.
 */
export const DOT_SEGMENTS = ['.', '..'];

/** A user id: well-formed text of 1–256 characters, not a dot segment. */
export function isUserId(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_ID_LENGTH && isWellFormed(value) && !DOT_SEGMENTS.includes(value)
  );
}

/** A room id is one this service made: a lowercase UUID (`newId`). */
export const ROOM_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids a client chooses (`client_msg_id`) or names (message ids): 1–128 of `A–Z a–z 0–9 . _ : -`. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function isRoomId(value: unknown): value is string {
  return typeof value === 'string' && ROOM_ID_PATTERN.test(value);
}

/** Random bytes for 256 ids at a time, as `randomUUID` keeps its own. */
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;
/** The id being written, as ASCII: `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`. */
const text = Buffer.from('00000000-0000-4000-8000-000000000000', 'latin1');
/** Where each random byte's two hex digits go in `text`. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A new id for a room, a message, a connection, an instance or a history
 * epoch: a random (version 4) UUID in lowercase. Written as ASCII and read
 * as one string: `randomUUID` joins its result from ~20 pieces, which V8
 * keeps as a tree of strings (about 490 bytes for as long as the id lives,
 * and as much again to flatten it); this is one flat string of about 64.
 */
export function newId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const from = 16 * next++;
  for (let i = 0; i < 16; i++) {
    let byte = pool[from + i];
    if (i === 6) byte = 0x40 | (byte & 0x0f); // version 4
    else if (i === 8) byte = 0x80 | (byte & 0x3f); // RFC 4122 variant
    text[AT[i]] = HEX[byte >> 4];
    text[AT[i] + 1] = HEX[byte & 0x0f];
  }
  return text.toString('latin1', 0, 36);
}
