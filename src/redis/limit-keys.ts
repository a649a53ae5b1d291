/**
 * Redis keys of the shared limits and of the one direct room per pair. Each part a client can influence is
 * percent-encoded, so no two subjects meet in one key, and a user's keys
 * share the hash tag `{u:<encoded user id>}` (one Redis Cluster slot per user).
 */
export class LimitKeys {
  constructor(private readonly prefix: string) {}

  /** A fixed-window counter: `bucket` is ours (`rest`, `rooms-created`), `subject` a user or an address. */
  rate(bucket: string, subject: LimitSubject): string {
    return `${this.prefix}chat:limit:rate:${bucket}:${tag(subject)}`;
  }

  /** How many rooms a user has created, in all. */
  roomsCreated(userId: string): string {
    return `${this.prefix}chat:limit:rooms-created:${tag({ user: userId })}`;
  }

  /** The id of the direct room of two users; `pair` is `directPair(a, b)`, already encoded. */
  directRoom(pair: string): string {
    return `${this.prefix}chat:direct:${pair}`;
  }

  /** The sorted set of a user's open connections on every instance, scored by when each expires unless renewed. */
  connections(userId: string): string {
    return `${this.prefix}chat:limit:connections:${tag({ user: userId })}`;
  }
}

/** Who a limit counts: a verified user, or a client address when there is none. */
export type LimitSubject = { user: string } | { address: string };

function tag(subject: LimitSubject): string {
  return 'user' in subject ? `{u:${encodeURIComponent(subject.user)}}` : `{a:${encodeURIComponent(subject.address)}}`;
}
