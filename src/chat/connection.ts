import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { Session } from '../auth/session.js';
import { newId } from '../core/ids.js';
import type { ConnectionLogFields } from '../logging/app-logger.js';
import type { CloseReason } from '../metrics/metric-labels.js';
import type { FrameMetrics } from './frame-metrics.js';
import { CloseCode, Reply, encode } from './protocol.js';
import { RateLimiter } from './rate-limiter.js';
import { RecoveryBudget } from './recovery-budget.js';

/**
 * TCP sockets corked until the I/O callbacks of this event-loop iteration
 * have run: what the server writes to one client while handling a batch of
 * reads (a message and its ack, several rooms' messages, answers to a burst
 * of frames) leaves in one system call instead of one each.
 */
const corked = new Set<Duplex>();
/**
 * A corked socket holding this much leaves at once: batching is for small
 * frames, and a large batch (a recovery, a backlog) held until the check
 * phase would count whole against the slow-consumer bound.
 */
const FLUSH_AT_BYTES = 64 * 1024;

function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/** Corks `socket` until the check phase of this iteration (after every promise its I/O callbacks started has settled). */
function corkForThisIteration(socket: Duplex): void {
  if (corked.has(socket)) return;
  // A tick or a microtask would run before the promise chains of a frame's handler finish; an immediate runs after them.
  if (corked.size === 0) setImmediate(uncorkAll);
  socket.cork();
  corked.add(socket);
}

/** Lets a corked socket's writes leave now if they are already large. */
function flushIfLarge(socket: Duplex): void {
  if (socket.writableLength >= FLUSH_AT_BYTES && corked.delete(socket)) socket.uncork();
}

/**
 * One open WebSocket of one user on this instance, and what the protocol
 * tracks per connection: its verified session, its rooms, its rate, its liveness.
 */
export class Connection {
  readonly id = newId();
  /** Rooms joined on this connection; only `RoomFanout` adds and deletes them. */
  readonly rooms = new Set<string>();
  /** Last time the client showed it is alive (a frame or a pong). */
  lastSeenAt = Date.now();
  expiryTimer: NodeJS.Timeout | undefined;
  /** `connected` has gone out; until then the client's frames wait (PROTOCOL §1: it comes first). */
  private greeted = false;
  private onGreeted: (() => void) | undefined;

  constructor(
    readonly socket: WebSocket,
    /** The token's session; `refresh_token` replaces it, for the same user. */
    public session: Session,
    readonly limiter: RateLimiter,
    private readonly maxBufferedBytes: number,
    /** Messages this connection may still recover over all its joins. */
    readonly recovery: RecoveryBudget = new RecoveryBudget(Number.MAX_SAFE_INTEGER),
    /** Counts the frames written and the closes (shared by every connection). */
    private readonly metrics?: FrameMetrics,
  ) {}

  get userId(): string {
    return this.session.userId;
  }

  /** What a log line about this connection carries (never its token). */
  get logFields(): ConnectionLogFields {
    return { connection_id: this.id, user_id: this.session.userId };
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Whether `connected` has gone out: nothing else may go before it. */
  get isGreeted(): boolean {
    return this.greeted;
  }

  /** Says `connected` has gone out: what waited for it runs now. */
  greet(): void {
    this.greeted = true;
    const waiting = this.onGreeted;
    this.onGreeted = undefined;
    waiting?.();
  }

  /** Runs `callback` once `connected` has gone out (now, if it has). */
  whenGreeted(callback: () => void): void {
    if (this.greeted) callback();
    else this.onGreeted = callback;
  }

  /** Writes one frame; `ref` is set on the frame that answers a client frame. */
  send(frame: Reply, ref?: string): void {
    if (this.sendEncoded(encode(ref === undefined ? frame : { ...frame, ref }))) this.metrics?.sent(frame.type);
  }

  /**
   * Writes an already serialized frame; false when it was not (the socket
   * is not open). A client that falls further behind than the configured
   * buffer is closed with 1013 rather than held in memory.
   */
  sendEncoded(data: string | Buffer): boolean {
    if (!this.isOpen) return false;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.close(CloseCode.tryAgainLater, 'slow_consumer');
      return false;
    }
    // ws keeps its TCP socket in `_socket`; it has no public handle for batching writes.
    const tcp = (this.socket as unknown as { _socket?: Duplex })._socket;
    if (tcp) corkForThisIteration(tcp);
    // A broadcast passes the same UTF-8 buffer to every socket; it is still a text frame.
    this.socket.send(data, { binary: false });
    if (tcp) flushIfLarge(tcp);
    return true;
  }

  close(code: number, reason: CloseReason): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
      this.metrics?.closed(reason);
    }
  }
}
