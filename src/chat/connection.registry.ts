import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { AuthError, Session } from '../auth/session.js';
import { TokenService } from '../auth/token.service.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { InstanceState } from '../instance/instance-state.js';
import { ConnectionSlots } from '../limits/connection-slots.js';
import { Connection } from './connection.js';
import { CloseCode } from './protocol.js';
import { RateLimiter } from './rate-limiter.js';
import { RecoveryBudget } from './recovery-budget.js';

/** How often the unsent bytes of all connections are summed against MAX_TOTAL_BUFFERED_BYTES. */
const BUFFER_CHECK_MS = 250;
/** A connection closed for the total budget whose close frame is stuck behind its unsent bytes is cut after this. */
const SLOW_CLOSE_GRACE_MS = 1_000;

/** The longest delay `setTimeout` accepts; a later token expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * This instance's open connections, each with its verified session:
 * admission (connection limit, draining), protocol-level heartbeat, token
 * expiry, and the drain on shutdown.
 */
@Injectable()
export class ConnectionRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly bySocket = new Map<WebSocket, Connection>();
  private readonly perUser = new Map<string, number>();
  /** Each connection's slot among its user's connections across instances. */
  private readonly slots = new Map<Connection, string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private bufferCheck: NodeJS.Timeout | undefined;
  private slowClosedCount = 0;

  constructor(
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly tokens: TokenService,
    private readonly instance: InstanceState,
    private readonly clusterSlots: ConnectionSlots,
  ) {}

  get size(): number {
    return this.bySocket.size;
  }

  /** Throws the handshake's 503 when this instance takes no more connections (of this user). */
  assertAdmissible(userId?: string): void {
    if (this.instance.isDraining) throw new AuthError(503, 'unavailable', 'The instance is shutting down');
    if (this.bySocket.size >= this.settings.ws.maxConnections) {
      throw new AuthError(503, 'unavailable', 'The instance is at its connection limit');
    }
    if (userId !== undefined && (this.perUser.get(userId) ?? 0) >= this.settings.ws.maxConnectionsPerUser) {
      throw new AuthError(503, 'unavailable', 'Too many connections for this user');
    }
  }

  /**
   * A slot for one more connection of the user across every instance
   * (`MAX_CONNECTIONS_PER_USER`), or the handshake's 503. The caller
   * passes it to `open`, or gives it back with `release` if the upgrade fails.
   */
  async reserve(userId: string): Promise<string> {
    const slot = await this.clusterSlots.acquire(userId, this.settings.ws.maxConnectionsPerUser);
    if (slot === undefined) throw new AuthError(503, 'unavailable', 'Too many connections for this user');
    return slot;
  }

  release(userId: string, slot: string): void {
    this.clusterSlots.release(userId, slot);
  }

  open(socket: WebSocket, session: Session, slot: string): Connection {
    const { rateLimit, maxBufferedBytes } = this.settings.ws;
    const abuse = { factor: rateLimit.abuseFactor, windowMs: rateLimit.abuseWindowMs };
    const connection = new Connection(
      socket,
      session,
      new RateLimiter(rateLimit.perSecond, rateLimit.burst, Date.now(), abuse),
      maxBufferedBytes,
      new RecoveryBudget(this.settings.messages.recoveryBudgetPerMinute),
    );
    this.bySocket.set(socket, connection);
    this.slots.set(connection, slot);
    this.instance.connections = this.bySocket.size;
    this.perUser.set(session.userId, (this.perUser.get(session.userId) ?? 0) + 1);
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
    const left = (this.perUser.get(connection.userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(connection.userId, left);
    else this.perUser.delete(connection.userId);
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
    let total = 0;
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

  /** Refuses new upgrades, then closes every socket with 1012 so clients reconnect elsewhere. */
  async onModuleDestroy(): Promise<void> {
    this.instance.drain();
    clearInterval(this.heartbeat);
    clearInterval(this.bufferCheck);
    if (this.bySocket.size === 0) return;
    this.logger.log(`Draining ${this.bySocket.size} connections`);
    const closed = [...this.bySocket.keys()].map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    for (const connection of this.bySocket.values()) connection.close(CloseCode.restarting, 'server_restarting');
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.settings.shutdownGraceMs).unref());
    await Promise.race([Promise.all(closed), grace]);
    for (const socket of this.bySocket.keys()) socket.terminate();
  }

  private beat(interval: number): void {
    const now = Date.now();
    for (const connection of this.bySocket.values()) {
      if (now - connection.lastSeenAt > 2 * interval) {
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
