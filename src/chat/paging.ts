import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SETTINGS, type Settings } from '../config/settings.js';

/**
 * REST paging (PROTOCOL §5): `limit` and an opaque `cursor` that the
 * previous page's `next` handed out. Today a cursor is a position in the
 * list, so an item added or removed between two calls can shift a page by
 * one.
 */
export const ROOMS_PAGE = { default: 100, max: 200 };
/** Members come as a bare array (FocusMate's shape); the default page holds a whole room at the default MAX_MEMBERS_PER_ROOM. */
export const MEMBERS_PAGE = { default: 1000, max: 1000 };
/** Far past any real list: a cursor beyond it is not one we made. */
const MAX_OFFSET = 10_000_000;
const OFFSET_BYTES = 4;
/** Bytes of the signature a cursor carries: enough that none is guessed, short enough for a query string. */
const TAG_BYTES = 12;

/**
 * Cursors the server signs, for one list (`scope`: whose rooms, which
 * room's members), so a cursor built by hand, changed, or handed out for
 * another list is 400. The key is derived from JWT_SECRET, so every
 * instance reads every other's cursors.
 */
@Injectable()
export class Cursors {
  private readonly key: Buffer;

  constructor(@Inject(SETTINGS) settings: Settings) {
    this.key = createHmac('sha256', settings.jwt.secret).update('chat paging cursors').digest();
  }

  /** The position a cursor of `scope` stands for; 0 without one; 400 for a cursor we did not make for it. */
  decode(scope: string, cursor: string | undefined): number {
    if (cursor === undefined) return 0;
    const bytes = Buffer.from(cursor, 'base64url');
    // Exactly as encoded: another spelling of the same bytes is not a cursor we handed out.
    const wellFormed = bytes.length === OFFSET_BYTES + TAG_BYTES && bytes.toString('base64url') === cursor;
    const offset = wellFormed ? bytes.readUInt32BE(0) : 0;
    if (offset <= 0 || offset > MAX_OFFSET || !timingSafeEqual(bytes.subarray(OFFSET_BYTES), this.tag(scope, offset))) {
      throw new BadRequestException('cursor is not valid');
    }
    return offset;
  }

  /** The cursor of the page after the one at `offset` with `count` items, or null when it was the last. */
  next(scope: string, offset: number, count: number, total: number): string | null {
    return offset + count < total && count > 0 ? this.encode(scope, offset + count) : null;
  }

  private encode(scope: string, offset: number): string {
    const position = Buffer.alloc(OFFSET_BYTES);
    position.writeUInt32BE(offset);
    return Buffer.concat([position, this.tag(scope, offset)]).toString('base64url');
  }

  private tag(scope: string, offset: number): Buffer {
    return createHmac('sha256', this.key).update(`${scope}\n${offset}`).digest().subarray(0, TAG_BYTES);
  }
}
