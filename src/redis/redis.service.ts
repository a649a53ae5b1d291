import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { createHash } from 'node:crypto';
import { newId } from '../core/ids.js';
import { SETTINGS, Settings } from '../config/settings.js';
import type { RedisConnectionName } from '../metrics/metric-labels.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { connect, quitCluster, type RedisClient, type RedisConnections } from './connect.js';
import { RedisKeys } from './redis-keys.js';
import { StoreUnavailableError } from './store-unavailable.error.js';

/** How often each connection is asked whether it still answers. */
const WATCHDOG_INTERVAL_MS = 1_000;

/**
 * The shared Redis, when `REDIS_URL`, `REDIS_SENTINELS` or
 * `REDIS_CLUSTER_NODES` is set (see `connect`): one connection for commands
 * and one for subscriptions per instance (on a cluster, one client with a
 * subscriber per master). They reconnect with backoff for ever (through
 * Sentinel: to whatever master the sentinels name then); while a connection
 * is down its commands fail at once (no offline queue), so nothing piles up
 * in memory and callers get a `StoreUnavailableError`.
 *
 * A Redis that hangs (stopped, stalled, or cut off without a reset) keeps
 * the sockets open, so each connection is asked PING every second: one that
 * does not answer within REDIS_COMMAND_TIMEOUT_MS is dropped and reconnects.
 * The instance then reports not ready and serves from what it knows, as
 * when Redis is down, instead of waiting out a timeout on every command.
 * (On a cluster the client's own failure detection and failover do this.)
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly instanceId = newId();
  readonly keys: RedisKeys;
  private readonly connections: RedisConnections | undefined;
  private readonly shas = new Map<string, string>();
  private readonly startupWaitMs: number;
  private readonly wait: Settings['redis']['wait'];
  private nextWait: Promise<number> | undefined;
  private readonly watchdogs: NodeJS.Timeout[] = [];
  private commandsBack: Promise<void> | undefined;
  /** On a cluster: the `cluster_state` a node last reported when it was not `ok` (see `watchClusterState`). */
  private clusterState: string | undefined;

  constructor(
    @Inject(SETTINGS) settings: Settings,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.keys = new RedisKeys(settings.redis.keyPrefix);
    this.startupWaitMs = settings.redis.connectTimeoutMs;
    this.wait = settings.redis.wait;
    this.connections = connect(settings.redis, this.instanceId);
    if (!this.connections) return;
    this.watch(this.connections.client, 'commands');
    this.watch(this.connections.subscriber, 'subscriber');
    if (this.connections.sharded) this.watchClusterState(this.connections.client as Cluster);
    else {
      this.guard(this.connections.client, 'commands');
      this.guard(this.connections.subscriber, 'subscriber');
    }
  }

  get enabled(): boolean {
    return this.connections !== undefined;
  }

  get client(): RedisClient {
    if (!this.connections) throw new Error('None of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is set');
    return this.connections.client;
  }

  get subscriber(): RedisClient {
    if (!this.connections) throw new Error('None of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is set');
    return this.connections.subscriber;
  }

  /** Whether room events travel on sharded pub/sub (a cluster): `keys.events`, SPUBLISH. */
  get sharded(): boolean {
    return this.connections?.sharded ?? false;
  }

  /** The channel this service publishes a room's events on: `keys.events` on a cluster, else `keys.channel`. */
  eventChannel(roomId: string): string {
    return this.sharded ? this.keys.events(roomId) : this.keys.channel(roomId);
  }

  /** The command scripts and `publish` use for room events: SPUBLISH on a cluster, else PUBLISH. */
  get publishCommand(): 'SPUBLISH' | 'PUBLISH' {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  /**
   * True when writes wait for replicas (`REDIS_WAIT_REPLICAS`): their events
   * are then published after `replicated`, so no client sees an event whose
   * write a failover could still lose.
   */
  get waitsForReplicas(): boolean {
    return this.wait.replicas > 0;
  }

  /** Publishes a room event (encoded) on the room's event channel. */
  publish(roomId: string, payload: string): Promise<unknown> {
    const channel = this.eventChannel(roomId);
    return this.sharded ? this.client.spublish(channel, payload) : this.client.publish(channel, payload);
  }

  /**
   * Gives Redis a moment to connect before the instance takes traffic; if it
   * is down the instance starts anyway, not ready, and becomes ready when it arrives.
   */
  async onModuleInit(): Promise<void> {
    if (!this.connections) return;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.startupWaitMs).unref());
    await Promise.race([Promise.all(this.distinct().map(whenReady)), timeout]);
    if (this.notReadyReason) this.logger.warn(`Starting without Redis: ${this.notReadyReason}`);
  }

  /**
   * Resolves once the commands connection is ready (at once if it is). What
   * reads the store after a reconnect waits for it: the subscriber can be
   * back before it.
   */
  commandsReady(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    // One wait however many ask while the connection is away (each subscriber reconnect asks).
    this.commandsBack ??= whenReady(this.client).finally(() => (this.commandsBack = undefined));
    return this.commandsBack;
  }

  /** Undefined when ready (or not configured), else why not. */
  get notReadyReason(): string | undefined {
    if (!this.connections) return undefined;
    const { client, subscriber } = this.connections;
    if (client.status !== 'ready') return `redis commands connection is ${client.status}`;
    if (subscriber.status !== 'ready') return `redis subscriber connection is ${subscriber.status}`;
    if (this.clusterState !== undefined) return `redis cluster state is ${this.clusterState}`;
    return undefined;
  }

  /**
   * Runs a Lua script by its SHA (EVALSHA), loading it on first use or after
   * a Redis restart forgot it.
   */
  async run(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    let sha = this.shas.get(script);
    if (!sha) this.shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    try {
      return await this.client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(script, keys.length, ...keys, ...args);
    }
  }

  /**
   * Runs a Redis call. Redis being unreachable (down, closed, timed out)
   * becomes a `StoreUnavailableError`; any other failure is a bug or a
   * damaged store, logged and rethrown.
   */
  async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      if (this.notReadyReason !== undefined || isConnectionError(error)) {
        this.logger.debug(`redis unreachable: ${error instanceof Error ? error.message : String(error)}`);
        throw new StoreUnavailableError();
      }
      this.logger.error(`redis call failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
  }

  /**
   * After a write, when `REDIS_WAIT_REPLICAS` is set: waits until that many
   * replicas hold every write this instance made so far (`WAIT`), so a
   * promoted replica has it. Fewer in time is a `StoreUnavailableError`: the
   * sender is not told the write is safe (it may still survive; a retry with
   * the same `client_msg_id` finds it). `key` is a key the write touched: on
   * a cluster, WAIT must reach that key's master.
   */
  async replicated(key: string): Promise<void> {
    const { replicas, timeoutMs } = this.wait;
    if (replicas === 0) return;
    const acknowledged = this.sharded ? await this.waitOnMasterOf(key, replicas, timeoutMs) : await this.waitShared(replicas, timeoutMs);
    if (acknowledged < replicas) {
      this.logger.warn(`only ${acknowledged} of ${replicas} replicas acknowledged a write within ${timeoutMs} ms`);
      throw new StoreUnavailableError();
    }
  }

  /** One WAIT covers every earlier write of the connection, so the writes answered meanwhile share the next one (WAIT holds the connection until it returns). */
  private waitShared(replicas: number, timeoutMs: number): Promise<number> {
    this.nextWait ??= new Promise((resolve) => setImmediate(resolve)).then(() => {
      this.nextWait = undefined;
      return this.call(() => this.client.wait(replicas, timeoutMs));
    });
    return this.nextWait;
  }

  /**
   * WAIT counts the replicas of the node it runs on. In a pipeline with a
   * read of `key`, the cluster client sends it to that key's master, on the
   * connection that made the write.
   */
  private waitOnMasterOf(key: string, replicas: number, timeoutMs: number): Promise<number> {
    return this.call(async () => {
      const replies = await this.client.pipeline().exists(key).wait(replicas, timeoutMs).exec();
      // A failed command of a pipeline is in its reply: thrown here, so `call` tells an unreachable store from a bug.
      const [error, acknowledged] = replies?.[1] ?? [new Error('no answer to WAIT'), 0];
      if (error) throw error;
      return Number(acknowledged);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    for (const timer of this.watchdogs.splice(0)) clearInterval(timer);
    if (!this.connections) return;
    // Outside a cluster, `disconnect` after `quit` also closes what `quit` leaves open: the sentinel connections of the failover detector.
    const close = (c: RedisClient) =>
      this.sharded ? quitCluster(c as Cluster) : c.quit().catch(() => undefined).finally(() => c.disconnect());
    await Promise.all(this.distinct().map(close));
  }

  /** The connections, each once (on a cluster the client also subscribes). */
  private distinct(): RedisClient[] {
    if (!this.connections) return [];
    return [...new Set([this.connections.client, this.connections.subscriber])];
  }

  /** Drops and reconnects a connection whose PING goes unanswered (see the class's comment). */
  private guard(connection: RedisClient, name: RedisConnectionName): void {
    let probing = false;
    const timer = setInterval(() => {
      if (probing || connection.status !== 'ready') return;
      probing = true;
      connection
        .ping()
        .catch((error: unknown) => {
          if (!(error instanceof Error) || !error.message.includes('Command timed out') || connection.status !== 'ready') return;
          this.logger.warn(`redis ${name} connection stopped answering; reconnecting`);
          connection.disconnect(true);
        })
        .finally(() => (probing = false));
    }, WATCHDOG_INTERVAL_MS);
    timer.unref();
    this.watchdogs.push(timer);
  }

  /**
   * A cluster whose state is `fail` (slots without a master, or the node
   * cut off from most masters) refuses commands while its connections
   * stand: each second a node is asked its `cluster_state`, so readiness
   * says so. Two answers in a row count (each may come from another
   * master: one cut off alone from the others should not flap readiness).
   * Not asked while the client is not ready: readiness already says that.
   */
  private watchClusterState(cluster: Cluster): void {
    let asking = false;
    let failedAnswers = 0;
    const timer = setInterval(() => {
      if (asking || cluster.status !== 'ready') return;
      asking = true;
      cluster
        .cluster('INFO')
        .then((info) => {
          const state = /^cluster_state:(\w+)/m.exec(String(info))?.[1] ?? 'unknown';
          failedAnswers = state === 'ok' ? 0 : failedAnswers + 1;
          if (failedAnswers === 1) return;
          const before = this.clusterState;
          this.clusterState = state === 'ok' ? undefined : state;
          if (this.clusterState !== before) {
            if (this.clusterState) this.logger.warn(`redis cluster state is ${this.clusterState}`);
            else this.logger.log('redis cluster state is ok again');
          }
        })
        // Unanswered: the client's own failure handling takes over, and its status tells readiness.
        .catch(() => undefined)
        .finally(() => (asking = false));
    }, WATCHDOG_INTERVAL_MS);
    timer.unref();
    this.watchdogs.push(timer);
  }

  /** Logs each change of state once, not every failed reconnect attempt. */
  private watch(connection: RedisClient, name: RedisConnectionName): void {
    let down = false;
    connection.on('error', (error: Error) => {
      if (!down) this.logger.warn(`redis ${name} connection lost: ${error.message}`);
      down = true;
    });
    connection.on('ready', () => {
      if (down) this.logger.log(`redis ${name} connection is back`);
      down = false;
      this.metrics?.redisConnected.set({ connection: name }, 1);
    });
    connection.on('close', () => this.metrics?.redisConnected.set({ connection: name }, 0));
  }
}

/**
 * Errors ioredis raises when it cannot reach Redis, and answers of a Redis
 * that cannot take writes now: `READONLY` (a master just turned into a
 * replica), `NOREPLICAS` (a master without the replicas `min-replicas-to-write` asks for).
 */
function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    // A pipeline cut off by its connection closing (a cluster master lost under a WAIT).
    error.name === 'AbortError' ||
    /Connection is closed|Command aborted due to connection close|Stream isn't writeable|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|^READONLY|^NOREPLICAS|Cluster isn't ready|Cluster is ended|Failed to refresh slots cache|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|MASTERDOWN/.test(
      error.message,
    )
  );
}

function whenReady(connection: RedisClient): Promise<void> {
  return connection.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => connection.once('ready', () => resolve()));
}
