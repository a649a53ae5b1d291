import type { OutboxEntry, OutboxStore } from './outbox.js';
import type { Cursor, Message } from './protocol.js';
import type { SocketFactory } from './socket.js';

/** Why the client stopped for good (until `connect()` or `setToken()`). */
export type CloseReason = 'client' | 'unauthorized' | 'token_expired' | 'forbidden' | 'policy';

/** What a connection-state display shows. */
export type ConnectionState =
  | { status: 'idle' }
  | { status: 'connecting'; attempt: number }
  | { status: 'open'; userId: string; connectionId: string }
  | { status: 'reconnecting'; attempt: number; retryInMs: number; retryAt: number; reason: string }
  | { status: 'offline' }
  | { status: 'closed'; reason: CloseReason; message: string };

/**
 * The outcome of a (re)join: `fresh` on a first join (load the history over
 * REST if you show it), `recovered` when every missed message follows as
 * `message` events, `reload` when they cannot (new epoch, or too far behind):
 * reload the history over REST. Also `reload` when the room's history is
 * reset while joined (the server lost it): its new messages follow from seq 1.
 */
export interface RoomSync {
  roomId: string;
  status: 'fresh' | 'recovered' | 'reload';
  cursor: Cursor;
  online: string[];
  typing: string[];
}

export interface ChatClientEvents {
  state: ConnectionState;
  /** A room's next message: each exactly once, in `seq` order. */
  message: Message;
  message_updated: Message;
  message_deleted: { roomId: string; messageId: string };
  joined: RoomSync;
  /** The room was left: by `leave()`, or `removed` from it by its owner. */
  left: { roomId: string; reason: 'left' | 'removed' | 'refused'; error?: { code: string; message: string } };
  presence: { roomId: string; online: string[] };
  typing: { roomId: string; users: string[] };
  /** A queued message the server confirmed (also those loaded from a persistent store). */
  sent: { entry: OutboxEntry; message: Message };
  /** The queue changed. */
  outbox: OutboxEntry[];
  /** An error the server reported that no call is waiting for. */
  error: { code: string; message: string; roomId?: string };
}

export interface ChatClientOptions {
  /** `ws(s)://host/api/v1/chats/ws` */
  url: string;
  /** The JWT the main backend issued. */
  token: string;
  /**
   * Supplies a fresh token before the current one expires (sent as
   * `refresh_token`), and after a refusal. One that throws (the main backend
   * away) is asked again: before expiry, sooner each time; after a refusal,
   * after the reconnect delay, for as long as it takes.
   */
  refreshToken?: () => Promise<string> | string;
  /** The WebSocket implementation: the platform's by default; pass `ws` in Node before version 22. */
  WebSocket?: SocketFactory;
  /** Where queued messages survive a restart; memory by default (see `localStorageOutboxStore`). */
  outboxStore?: OutboxStore;
  /** `protocol` (default) keeps the token out of URLs and logs; `query` is what older clients do. */
  tokenIn?: 'protocol' | 'query';
  /** Backoff: first ceiling and largest delay, ms (500 and 20 000). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** A JSON ping goes out this often; by default the server's `heartbeat_interval_ms`. */
  pingIntervalMs?: number;
  /** A sent message without an answer this long is sent again (deduplicated by the server). */
  ackTimeoutMs?: number;
  /**
   * Frames written per second at most, in bursts of twice that (18): under
   * the server's own limit (20 a second, bursts of 40), which drops frames
   * past it, so rejoining many rooms and sending what was queued go out paced rather than lost. At least 1.
   */
  maxFramesPerSecond?: number;
  /** A start of typing is sent at most this often while the user keeps typing. */
  typingThrottleMs?: number;
  /** Typing stops by itself this long after the latest keystroke. */
  typingIdleMs?: number;
}

/** An error the server answered with. */
export class ChatError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly roomId?: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}
