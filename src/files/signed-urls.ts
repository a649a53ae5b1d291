import { createHmac, timingSafeEqual } from 'node:crypto';

/** A stored file's name: the server's id and the extension of its detected type. */
export const FILE_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[a-z0-9]{1,10}$/;

/**
 * Short-lived URLs of stored files, which work where no header can be
 * sent (`<img src>`): the path and an expiry, signed with HMAC-SHA256 under a
 * server key. Whoever holds one may fetch that file until it expires; only
 * members of the file's room are handed one.
 *
 * A message keeps its attachments, not their signatures: a link to a file of
 * the message's own room is stored without its query (`keep`) and signed
 * afresh whenever the message is handed out (`present`), so history shows its
 * images long after the upload's link expired. Links to anything else (another
 * room's file, another site, this path at an untrusted host) are stored and
 * returned exactly as sent.
 */
export class SignedUrls {
  /** `[trusted origin]<base>rooms/<room id>/<file name>[?expires=…&signature=…]`; the groups are the link without its query, the room id and the name. */
  private readonly ownLink: RegExp;

  constructor(
    private readonly secret: string,
    private readonly ttlS: number,
    /** Where the files are served, e.g. `/api/v1/chats/files/`. */
    private readonly base: string,
    /**
     * Origins an absolute link may name and still be one of ours (the
     * trusted origins, CORS_ORIGINS). A link naming any other host is that
     * host's: signing it afresh would hand that host a working signature.
     */
    origins: readonly string[] = [],
  ) {
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const origin = origins.length === 0 ? '' : `(?:${origins.map(escape).join('|')})?`;
    this.ownLink = new RegExp(`^(${origin}${escape(base)}rooms/([0-9a-f-]{36})/([^/?#]+))(?:\\?expires=\\d{1,12}&signature=[0-9a-f]{64})?$`);
  }

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

  /** The attachments as a message of `roomId` stores them: links to the room's own files lose their signature. */
  keep(roomId: string, attachments: string[]): string[] {
    return attachments.map((link) => {
      const own = this.own(roomId, link);
      return own ? own.unsigned : link;
    });
  }

  /**
   * The message with every link to a file of its room signed afresh; the
   * same object when it has none. Takes old links stored with a signature too.
   */
  present<M extends { room_id: string; attachments: unknown[] | null }>(message: M, now = Date.now()): M {
    const attachments = message.attachments;
    if (!attachments || attachments.length === 0) return message;
    let changed = false;
    const signed = attachments.map((link) => {
      const own = typeof link === 'string' ? this.own(message.room_id, link) : undefined;
      if (!own) return link;
      changed = true;
      const expires = Math.floor(now / 1000) + this.ttlS;
      return `${own.unsigned}?expires=${expires}&signature=${this.signature(own.path, expires)}`;
    });
    return changed ? { ...message, attachments: signed } : message;
  }

  /** A link to a file of `roomId` served here, without its query, and the file's path in the store. */
  private own(roomId: string, link: string): { unsigned: string; path: string } | undefined {
    const match = this.ownLink.exec(link);
    if (!match || match[2] !== roomId || !FILE_NAME.test(match[3])) return undefined;
    return { unsigned: match[1], path: `rooms/${roomId}/${match[3]}` };
  }

  private signature(path: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${expires}`).digest('hex');
  }
}
