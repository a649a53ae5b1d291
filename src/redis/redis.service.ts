import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { createHash } from 'node:crypto';
import { newId } from '../core/ids.js';
import { SETTINGS, Settings } from '../config/settings.js';
import type { RedisConnectionName } from '../metrics/metric-labels.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RedisKeys } from './redis-keys.js';
import { StoreUnavailableError } from './store-unavailable.error.js';

/**
 * The shared Redis, when `REDIS_URL` or `REDIS_SENTINELS` is set: one
 * connection for commands and one for subscriptions per instance. Both
 * reconnect with backoff for ever (through Sentinel: to whatever master the
 * sentinels name then); while a connection is down its commands fail at once
 * (no offline queue), so nothing piles up in memory and callers get a
 * `StoreUnavailableError`.
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly instanceId = newId();
  readonly keys: RedisKeys;
  private readonly connections: { client: Redis; subscriber: Redis } | undefined;
  private readonly shas = new Map<string, string>();
  private readonly startupWaitMs: number;
  private readonly wait: Settings['redis']['wait'];

  constructor(
    @Inject(SETTINGS) settings: Settings,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.keys = new RedisKeys(settings.redis.keyPrefix);
    const { enabled, commandTimeoutMs, connectTimeoutMs, reconnect, wait } = settings.redis;
    this.startupWaitMs = connectTimeoutMs;
    this.wait = wait;
    if (!enabled) return;
    // The exponent is capped only to keep the number finite; the maximum wait caps the delay.
    const backoff = (attempt: number) => Math.min(reconnect.baseMs * 2 ** Math.min(attempt, 20), reconnect.maxMs);
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      connectTimeout: connectTimeoutMs,
      autoResubscribe: false,
      retryStrategy: backoff,
    };
    const client = connect(settings.redis, { ...options, connectionName: `chat:${this.instanceId}:commands` });
    const subscriber = client.duplicate({ connectionName: `chat:${this.instanceId}:subscriber` });
    this.watch(client, 'commands');
    this.watch(subscriber, 'subscriber');
    this.connections = { client, subscriber };
  }

  get enabled(): boolean {
    return this.connections !== undefined;
  }

  get client(): Redis {
    if (!this.connections) throw new Error('REDIS_URL is not set');
    return this.connections.client;
  }

  get subscriber(): Redis {
    if (!this.connections) throw new Error('REDIS_URL is not set');
    return this.connections.subscriber;
  }

  /**
   * Gives Redis a moment to connect before the instance takes traffic; if it
   * is down the instance starts anyway, not ready, and becomes ready when it arrives.
   */
  async onModuleInit(): Promise<void> {
    if (!this.connections) return;
    const ready = (connection: Redis) =>
      connection.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => connection.once('ready', () => resolve()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.startupWaitMs).unref());
    await Promise.race([Promise.all(Object.values(this.connections).map(ready)), timeout]);
    if (this.notReadyReason) this.logger.warn(`Starting without Redis: ${this.notReadyReason}`);
  }

  /** Undefined when ready (or not configured), else why not. */
  get notReadyReason(): string | undefined {
    if (!this.connections) return undefined;
    const { client, subscriber } = this.connections;
    if (client.status !== 'ready') return `redis commands connection is ${client.status}`;
    if (subscriber.status !== 'ready') return `redis subscriber connection is ${subscriber.status}`;
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
   * the same `client_msg_id` finds it).
   */
  async replicated(): Promise<void> {
    const { replicas, timeoutMs } = this.wait;
    if (replicas === 0) return;
    const acknowledged = await this.call(() => this.client.wait(replicas, timeoutMs));
    if (acknowledged < replicas) {
      this.logger.warn(`only ${acknowledged} of ${replicas} replicas acknowledged a write within ${timeoutMs} ms`);
      throw new StoreUnavailableError();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.connections) return;
    await Promise.all(Object.values(this.connections).map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** Logs each change of state once, not every failed reconnect attempt. */
  private watch(connection: Redis, name: RedisConnectionName): void {
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
 * Errors ioredis raises when it cannot reach Redis, as opposed to errors
 * Redis answers with; `READONLY` is a master just turned into a replica.
 */
function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|^READONLY/.test(error.message)
  );
}

/**
 * The commands connection: to `REDIS_URL`, or through Sentinel to the
 * master the sentinels name. Through Sentinel a failover is noticed three
 * ways: the master's connection drops (ioredis asks the sentinels again and
 * checks the role of what it finds), a sentinel announces `+switch-master`
 * (`failoverDetector`, for a master that hangs without closing), or a write
 * answers `READONLY` (a master just turned into a replica).
 */
function connect({ url, sentinel }: Settings['redis'], options: RedisOptions): Redis {
  if (!sentinel) return new Redis(url ?? '', options);
  return new Redis({
    ...options,
    sentinels: sentinel.sentinels,
    name: sentinel.masterName,
    failoverDetector: true,
    sentinelRetryStrategy: options.retryStrategy ?? undefined,
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  });
}
