import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived URLs of stored files, which work where no header can be
 * sent (`<img src>`): the path and an expiry, signed with HMAC-SHA256 under a
 * server key. Whoever holds one may fetch that file until it expires; only
 * members of the file's room are handed one.
 */
export class SignedUrls {
  constructor(
    private readonly secret: string,
    private readonly ttlS: number,
    /** Where the files are served, e.g. `/api/v1/chats/files/`. */
    private readonly base: string,
  ) {}

  sign(path: string, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + this.ttlS;
    return `${this.base}${path}?expires=${expires}&signature=${this.signature(path, expires)}`;
  }

  /** True when `signature` is this server's for `path` and `expires` has not passed. */
  verify(path: string, expires: string | undefined, signature: string | undefined, now = Date.now()): boolean {
    if (!expires || !/^\d{1,12}$/.test(expires) || !signature || !/^[0-9a-f]{64}$/.test(signature)) return false;
    if (Number(expires) * 1000 <= now) return false;
    return timingSafeEqual(Buffer.from(this.signature(path, Number(expires)), 'hex'), Buffer.from(signature, 'hex'));
  }

  private signature(path: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${expires}`).digest('hex');
  }
}
