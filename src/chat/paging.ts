import { BadRequestException } from '@nestjs/common';

/**
 * REST paging (PROTOCOL §5): `limit` and an opaque `cursor` that the
 * previous page's `next` handed out. Today a cursor is a position in the
 * list, so an item added or removed between two calls can shift a page by
 * one; clients must not build cursors themselves.
 */
export const ROOMS_PAGE = { default: 100, max: 200 };
/** Members come as a bare array (FocusMate's shape); the default page holds a whole room at the default MAX_MEMBERS_PER_ROOM. */
export const MEMBERS_PAGE = { default: 1000, max: 1000 };
/** Far past any real list: a cursor beyond it is not one we made. */
const MAX_OFFSET = 10_000_000;

export function encodeCursor(offset: number): string {
  return Buffer.from(`o${offset}`).toString('base64url');
}

/** The position a cursor stands for; 0 without one; 400 for a cursor we did not make. */
export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^o(\d{1,8})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const offset = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(offset) || offset <= 0 || offset > MAX_OFFSET) throw new BadRequestException('cursor is not valid');
  return offset;
}

/** The cursor of the page after the one at `offset` with `count` items, or null when it was the last. */
export function nextCursor(offset: number, count: number, total: number): string | null {
  return offset + count < total && count > 0 ? encodeCursor(offset + count) : null;
}
