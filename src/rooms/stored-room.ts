import { isId, isObject, isTime } from '../core/room-event.js';
import { DamagedRoomError } from './damaged-room.error.js';
import { ROOM_TYPES, type Member, type Room } from './room.store.js';

/** Longest name or description accepted from a stored room. */
const MAX_TEXT = 4096;

const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_TEXT;
const isTextOrNull = (v: unknown): v is string | null => v === null || isText(v);
const parse = (json: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(json);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A room's stored `info` read back from Redis (null: there is no such key),
 * checked field by field and rebuilt from its known fields (its members come
 * from their own hash): undefined for no room; throws `DamagedRoomError` for
 * an `info` that is not one of `roomId`'s (a damaged key). Every read of a
 * room decides here: a read of one room lets the error through, a list
 * leaves the room out (`RedisRoomStore.getMany`).
 */
export function decodeRoomInfo(json: string | null, roomId: string): Omit<Room, 'member_ids'> | undefined {
  if (json === null) return undefined;
  const d = parse(json);
  if (
    !d ||
    d.room_id !== roomId ||
    !(ROOM_TYPES as readonly unknown[]).includes(d.room_type) ||
    !isTextOrNull(d.room_name ?? null) ||
    !isTextOrNull(d.description ?? null) ||
    !isId(d.owner_id) ||
    !(d.team_id === undefined || isTextOrNull(d.team_id)) ||
    !(d.direct_user_ids === undefined || (Array.isArray(d.direct_user_ids) && d.direct_user_ids.length <= 2 && d.direct_user_ids.every(isId))) ||
    typeof d.is_active !== 'boolean' ||
    typeof d.is_archived !== 'boolean' ||
    !isTime(d.created_at) ||
    !(d.last_message_at === undefined || d.last_message_at === null || isTime(d.last_message_at))
  ) {
    throw new DamagedRoomError(roomId);
  }
  return {
    room_id: roomId,
    room_type: d.room_type as Room['room_type'],
    room_name: (d.room_name ?? null) as string | null,
    description: (d.description ?? null) as string | null,
    owner_id: d.owner_id,
    ...(d.team_id === undefined ? {} : { team_id: d.team_id as string | null }),
    ...(d.direct_user_ids === undefined ? {} : { direct_user_ids: d.direct_user_ids as string[] }),
    is_active: d.is_active,
    is_archived: d.is_archived,
    created_at: d.created_at,
    last_message_at: (d.last_message_at ?? null) as string | null,
  };
}

/** A member entry read back from a room's members hash; undefined if it is not `userId`'s (a damaged entry). */
export function decodeMember(json: string, userId?: string): Member | undefined {
  const d = parse(json);
  if (!d || !isId(d.user_id) || (userId !== undefined && d.user_id !== userId)) return undefined;
  if ((d.role !== 'owner' && d.role !== 'member') || !isTime(d.joined_at)) return undefined;
  return { user_id: d.user_id, role: d.role, joined_at: d.joined_at };
}
