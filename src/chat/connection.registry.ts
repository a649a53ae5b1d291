import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { AuthError, Session } from '../auth/session.js';
import { TokenService } from '../auth/token.service.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { InstanceState } from '../instance/instance-state.js';
import { ConnectionSlots } from '../limits/connection-slots.js';
import { Connection } from './connection.js';
import { FrameMetrics } from './frame-metrics.js';
import { CloseCode } from './protocol.js';
import { ByteBudget, RateLimiter, type AbuseRule } from './rate-limiter.js';
import { RecoveryBudget } from './recovery-budget.js';

/** How often the unsent bytes of all connections are summed against MAX_TOTAL_BUFFERED_BYTES. */
const BUFFER_CHECK_MS = 250;
/** A connection closed for the total budget whose close frame is stuck behind its unsent bytes is cut after this. */
const SLOW_CLOSE_GRACE_MS = 1_000;

/** The longest delay `setTimeout` accepts; a later token expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A paced drain closes a batch at most this often: finer pacing buys nothing and costs timers. */
const MIN_DRAIN_INTERVAL_MS = 100;
/** … and at least this many sockets at once: a few reconnects are no herd, and a small instance stops at once. */
const MIN_DRAIN_BATCH = 10;

/**
 * This instance's open connections, each with its verified session:
 * admission (connection limit, draining), protocol-level heartbeat, token
 * expiry, and the drain on shutdown.
 */
@Injectable()
export class ConnectionRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly bySocket = new Map<WebSocket, Connection>();
  /** Each user's connections here, and the byte budget they share (RATE_LIMIT_BYTES_PER_SECOND). */
  private readonly perUser = new Map<string, { connections: number; bytes: ByteBudget }>();
  /** Each connection's slot among its user's connections across instances. */
  private readonly slots = new Map<Connection, string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private bufferCheck: NodeJS.Timeout | undefined;
  private slowClosedCount = 0;
  /** The abuse rule every connection's limiter shares. */
  private readonly abuse: AbuseRule;

  constructor(
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly tokens: TokenService,
    private readonly instance: InstanceState,
    private readonly clusterSlots: ConnectionSlots,
    private readonly metrics: FrameMetrics,
  ) {
    const { abuseFactor, abuseWindowMs } = settings.ws.rateLimit;
    this.abuse = { factor: abuseFactor, windowMs: abuseWindowMs };
  }

  get size(): number {
    return this.bySocket.size;
  }

  /** Throws the handshake's 503 when this instance takes no more connections (of this user). */
  assertAdmissible(userId?: string): void {
    if (this.instance.isDraining) throw new AuthError(503, 'unavailable', 'The instance is shutting down');
    if (this.bySocket.size >= this.settings.ws.maxConnections) {
      throw new AuthError(503, 'unavailable', 'The instance is at its connection limit');
    }
    if (userId !== undefined && (this.perUser.get(userId)?.connections ?? 0) >= this.settings.ws.maxConnectionsPerUser) {
      throw new AuthError(503, 'unavailable', 'Too many connections for this user', true);
    }
  }

  /**
   * A slot for one more connection of the user across every instance
   * (`MAX_CONNECTIONS_PER_USER`), or the handshake's 503. The caller
   * passes it to `open`, or gives it back with `release` if the upgrade fails.
   */
  async reserve(userId: string): Promise<string> {
    const slot = await this.clusterSlots.acquire(userId, this.settings.ws.maxConnectionsPerUser);
    if (slot === undefined) throw new AuthError(503, 'unavailable', 'Too many connections for this user', true);
    return slot;
  }

  release(userId: string, slot: string): void {
    this.clusterSlots.release(userId, slot);
  }

  open(socket: WebSocket, session: Session, slot: string): Connection {
    const { rateLimit, maxBufferedBytes } = this.settings.ws;
    let user = this.perUser.get(session.userId);
    if (!user) this.perUser.set(session.userId, (user = { connections: 0, bytes: new ByteBudget(rateLimit.bytesPerSecond, rateLimit.bytesBurst) }));
    user.connections += 1;
    const connection = new Connection(
      socket,
      session,
      new RateLimiter(rateLimit.perSecond, rateLimit.burst, performance.now(), this.abuse, user.bytes),
      maxBufferedBytes,
      new RecoveryBudget(this.settings.messages.recoveryBudgetPerMinute),
      this.metrics,
    );
    this.bySocket.set(socket, connection);
    this.slots.set(connection, slot);
    this.instance.connections = this.bySocket.size;
    this.metrics.connectionsOpen(this.bySocket.size);
    this.scheduleExpiry(connection, session);
    socket.on('pong', () => (connection.lastSeenAt = Date.now()));
    return connection;
  }

  get(socket: WebSocket): Connection | undefined {
    return this.bySocket.get(socket);
  }

  remove(socket: WebSocket): Connection | undefined {
    const connection = this.bySocket.get(socket);
    if (!connection) return undefined;
    clearTimeout(connection.expiryTimer);
    this.bySocket.delete(socket);
    const slot = this.slots.get(connection);
    this.slots.delete(connection);
    if (slot !== undefined) this.clusterSlots.release(connection.userId, slot);
    this.instance.connections = this.bySocket.size;
    this.metrics.connectionsOpen(this.bySocket.size);
    const user = this.perUser.get(connection.userId);
    if (user && --user.connections <= 0) this.perUser.delete(connection.userId);
    return connection;
  }

  /** Replaces the session after `refresh_token`; the new token must name the same user. */
  refresh(connection: Connection, session: Session): void {
    connection.session = session;
    this.scheduleExpiry(connection, session);
  }

  onModuleInit(): void {
    const interval = this.settings.ws.heartbeatIntervalMs;
    this.heartbeat = setInterval(() => this.beat(interval), interval);
    this.heartbeat.unref();
    this.bufferCheck = setInterval(() => this.enforceBufferBudget(), BUFFER_CHECK_MS);
    this.bufferCheck.unref();
  }

  /** Connections closed since start because all connections together fell too far behind. */
  get slowClosed(): number {
    return this.slowClosedCount;
  }

  /**
   * Bounds the unsent bytes of all connections together: past
   * MAX_TOTAL_BUFFERED_BYTES, the connections furthest behind are closed
   * with 1013 first, until the rest fit.
   */
  enforceBufferBudget(): void {
    const budget = this.settings.ws.maxTotalBufferedBytes;
    // Four times a second over every socket: the sum alone, the rest only once it is over.
    let total = 0;
    for (const socket of this.bySocket.keys()) total += socket.bufferedAmount;
    if (total <= budget) return;
    total = 0;
    const open: Connection[] = [];
    for (const connection of this.bySocket.values()) {
      if (!connection.isOpen) continue;
      total += connection.socket.bufferedAmount;
      open.push(connection);
    }
    if (total <= budget) return;
    open.sort((a, b) => b.socket.bufferedAmount - a.socket.bufferedAmount);
    for (const connection of open) {
      if (total <= budget) break;
      total -= connection.socket.bufferedAmount;
      this.slowClosedCount += 1;
      connection.close(CloseCode.tryAgainLater, 'slow_consumer');
      // The close frame waits behind the unsent bytes; a reader that never reads them is cut.
      setTimeout(() => connection.socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
    }
    this.logger.warn(`Unsent bytes of all connections passed ${budget}: closed the slowest readers`);
  }

  /**
   * The paced drain of a shutdown: the instance turns not ready and refuses
   * upgrades at once, then closes its sockets with 1012 in batches spread
   * over `durationMs`, so their clients do not all reconnect elsewhere in the
   * same instant; then it waits up to `SHUTDOWN_GRACE_MS` for the closing
   * handshakes and terminates what is left. Nest's `WsAdapter.close()`
   * terminates every socket at once, so this runs before `app.close()`.
   */
  async drain(durationMs: number): Promise<void> {
    this.instance.drain();
    const sockets = [...this.bySocket.keys()];
    if (sockets.length === 0) return;
    const closed = sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    const maxBatches = Math.max(1, Math.floor(durationMs / MIN_DRAIN_INTERVAL_MS));
    const size = Math.max(MIN_DRAIN_BATCH, Math.ceil(sockets.length / maxBatches));
    const batches = Math.ceil(sockets.length / size);
    const interval = durationMs / batches;
    this.logger.log(`Draining ${sockets.length} connections: ${batches} batches of up to ${size}, every ${Math.round(interval)} ms`);
    for (let start = 0; start < sockets.length; start += size) {
      if (start > 0) await new Promise((resolve) => setTimeout(resolve, interval));
      for (const socket of sockets.slice(start, start + size)) this.bySocket.get(socket)?.close(CloseCode.restarting, 'server_restarting');
    }
    await this.closeRest(closed);
  }

  /** Without a paced drain before it (`app.close()` alone): every socket gets 1012 at once. */
  async onModuleDestroy(): Promise<void> {
    this.instance.drain();
    clearInterval(this.heartbeat);
    clearInterval(this.bufferCheck);
    if (this.bySocket.size === 0) return;
    this.logger.log(`Closing ${this.bySocket.size} connections`);
    const closed = [...this.bySocket.keys()].map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    for (const connection of this.bySocket.values()) connection.close(CloseCode.restarting, 'server_restarting');
    await this.closeRest(closed);
  }

  /** Waits up to `SHUTDOWN_GRACE_MS` for closing handshakes, then terminates the sockets still open. */
  private async closeRest(closed: Array<Promise<void>>): Promise<void> {
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.settings.shutdownGraceMs).unref());
    await Promise.race([Promise.all(closed), grace]);
    for (const socket of this.bySocket.keys()) socket.terminate();
  }

  private beat(interval: number): void {
    const now = Date.now();
    for (const connection of this.bySocket.values()) {
      if (now - connection.lastSeenAt > 2 * interval) {
        this.metrics.closed('heartbeat_timeout');
        connection.socket.terminate();
      } else if (connection.isOpen) {
        connection.socket.ping();
      }
    }
  }

  private scheduleExpiry(connection: Connection, session: Session): void {
    clearTimeout(connection.expiryTimer);
    const deadline = this.tokens.deadline(session);
    if (deadline === null) return;
    const delay = deadline - Date.now();
    connection.expiryTimer = setTimeout(() => {
      if (delay > MAX_TIMER_MS) this.scheduleExpiry(connection, session);
      else connection.close(CloseCode.policy, 'token_expired');
    }, Math.max(0, Math.min(delay, MAX_TIMER_MS)));
    connection.expiryTimer.unref();
  }
}
