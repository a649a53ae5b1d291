import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import diagnostics from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SETTINGS, type Settings } from '../config/settings.js';
import { closeHttpServer } from '../core/close-http-server.js';
import { LatencyHistogram } from './latency-histogram.js';
import { CLOSE_REASONS, MESSAGE_RESULTS, RECOVERY_OUTCOMES, REDIS_CONNECTIONS, UPGRADE_RESULTS } from './metric-labels.js';

/** Seconds; a chat round trip is a few milliseconds when healthy, seconds when something is wrong. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const REDIS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

/**
 * A counter series counted on the hot path as a plain number and added to
 * its counter when the registry is scraped: per frame and per message,
 * counting is an addition instead of prom-client's label hashing.
 */
export class Tally {
  private pending = 0;

  constructor(private readonly series: { inc(value: number): void }) {}

  inc(value = 1): void {
    this.pending += value;
  }

  flush(): void {
    if (this.pending === 0) return;
    this.series.inc(this.pending);
    this.pending = 0;
  }
}

/** ioredis reports every command on this diagnostics channel (start … asyncEnd | error). */
const REDIS_COMMAND_CHANNEL = 'ioredis:command';

/**
 * Every Prometheus series of the service, in one registry per application
 * (tests run several applications in one process). Label values come from
 * closed lists (`metric-labels.ts`; the protocol's frame types and error
 * codes): never a room id, user id or token.
 *
 * Callers use the metric objects directly (`metrics.framesSent.inc({ type })`),
 * or for what is counted per frame or message a `tally` of one series;
 * `GET /metrics` renders the registry, on the HTTP port or, with
 * `METRICS_PORT`, on a small server of its own.
 */
/** How often the event loop's delay is sampled for `nodejs_eventloop_lag_*`. */
const EVENT_LOOP_SAMPLE_MS = 100;

@Injectable()
export class MetricsService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly registry = new Registry();

  /** Sockets open on this instance. */
  readonly connectionsOpen = new Gauge({
    name: 'chat_connections_open',
    help: 'WebSocket connections open on this instance',
    registers: [this.registry],
  });

  readonly upgrades = new Counter({
    name: 'chat_ws_upgrades_total',
    help: 'WebSocket upgrade requests by result: accepted, or the error of the refused handshake',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly framesReceived = new Counter({
    name: 'chat_frames_received_total',
    help: 'Client frames by type (a protocol type, else other) and result (ok, or the error code answered)',
    labelNames: ['type', 'result'] as const,
    registers: [this.registry],
  });

  readonly framesSent = new Counter({
    name: 'chat_frames_sent_total',
    help: 'Server frames written to sockets, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'chat_deliveries_total',
    help: 'Room events written to a local socket (one per event and receiving connection)',
    registers: [this.registry],
  });

  readonly messagesSent = new Counter({
    name: 'chat_messages_sent_total',
    help: 'Messages sent by clients (socket or REST), by result: stored, or duplicate (a retried client_msg_id)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Observed per message: a `LatencyHistogram`, plain numbers until scraped. */
  readonly sendToAck = new LatencyHistogram(
    'chat_send_to_ack_seconds',
    'From receiving send_message to writing its message_ack',
    LATENCY_BUCKETS,
    this.registry,
  );

  readonly publishToWrite = new LatencyHistogram(
    'chat_publish_to_write_seconds',
    "From a room event's publish to its write on a receiver's socket",
    LATENCY_BUCKETS,
    this.registry,
  );

  readonly serverCloses = new Counter({
    name: 'chat_server_closes_total',
    help: 'Connections the server closed, by reason (slow_consumer, rate_limited, …)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly redisConnected = new Gauge({
    name: 'chat_redis_connected',
    help: 'Whether a Redis connection is ready (1) or not (0), by connection (commands, subscriber)',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });

  readonly redisCommandDuration = new Histogram({
    name: 'chat_redis_command_duration_seconds',
    help: 'Redis commands of this process, from send to reply, by command and result (ok, error)',
    labelNames: ['command', 'result'] as const,
    buckets: REDIS_BUCKETS,
    registers: [this.registry],
  });

  readonly busEventsDropped = new Counter({
    name: 'chat_bus_events_dropped_total',
    help: 'Payloads on room channels dropped because they were not valid room events',
    registers: [this.registry],
  });

  readonly recoveries = new Counter({
    name: 'chat_recovery_joins_total',
    help: 'join_room frames with `since`, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private server: Server | undefined;
  private readonly tallies: Tally[] = [];
  private readonly redisStarts = new WeakMap<object, bigint>();
  private readonly onRedisStart = (context: unknown) => this.redisStarts.set(context as object, process.hrtime.bigint());
  private readonly onRedisEnd = (context: unknown) => this.observeRedis(context, 'ok');
  private readonly onRedisError = (context: unknown) => this.observeRedis(context, 'error');

  constructor(@Inject(SETTINGS) private readonly settings: Settings) {
    // The process collectors' event-loop monitor samples with a timer: at prom-client's default 10 ms it
    // was half of an instance's CPU with 1,000 idle connections open. Every 100 ms still catches any stall
    // worth an alert (each sample records how late it fired), for a tenth of the wake-ups.
    if (settings.metrics.enabled) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Start every labelled series at zero, so rates and alerts see them before the first event.
    for (const result of UPGRADE_RESULTS) this.upgrades.inc({ result }, 0);
    for (const reason of CLOSE_REASONS) this.serverCloses.inc({ reason }, 0);
    for (const outcome of RECOVERY_OUTCOMES) this.recoveries.inc({ outcome }, 0);
    for (const result of MESSAGE_RESULTS) this.messagesSent.inc({ result }, 0);
    if (settings.redis.enabled) for (const connection of REDIS_CONNECTIONS) this.redisConnected.set({ connection }, 0);
    if (settings.metrics.enabled && settings.redis.enabled) this.traceRedis(true);
  }

  /** One series (a counter, or a counter's label child) counted as a `Tally`, added to the counter on every scrape. */
  tally(series: { inc(value: number): void }): Tally {
    const tally = new Tally(series);
    this.tallies.push(tally);
    return tally;
  }

  /** The text exposition of every series. */
  render(): Promise<string> {
    for (const tally of this.tallies) tally.flush();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Whether `GET /metrics` on the HTTP port answers (enabled and not moved to a port of its own). */
  get servedOnHttpPort(): boolean {
    const { enabled, port } = this.settings.metrics;
    return enabled && (port === undefined || port === this.settings.http.port);
  }

  /** Where the separate metrics server listens, when there is one. */
  get separateAddress(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.settings.metrics.enabled || this.servedOnHttpPort) return;
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      this.render().then(
        (text) => response.writeHead(200, { 'Content-Type': this.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      // Named, so the one line the process prints on a failed start says which setting to change.
      server.once('error', (error: Error) => reject(new Error(`METRICS_PORT ${String(this.settings.metrics.port)} (HOST ${this.settings.http.host}): ${error.message}`)));
      server.listen(this.settings.metrics.port, this.settings.http.host, () => resolve());
    });
    this.server = server;
  }

  async onApplicationShutdown(): Promise<void> {
    this.traceRedis(false);
    const server = this.server;
    this.server = undefined;
    // A scrape is not worth waiting for.
    if (server) await closeHttpServer(server, 0);
  }

  private traceRedis(on: boolean): void {
    const subscribe = on ? diagnostics.subscribe : diagnostics.unsubscribe;
    subscribe(`tracing:${REDIS_COMMAND_CHANNEL}:start`, this.onRedisStart);
    subscribe(`tracing:${REDIS_COMMAND_CHANNEL}:asyncEnd`, this.onRedisEnd);
    subscribe(`tracing:${REDIS_COMMAND_CHANNEL}:error`, this.onRedisError);
  }

  private observeRedis(context: unknown, result: 'ok' | 'error'): void {
    const started = this.redisStarts.get(context as object);
    if (started === undefined) return;
    // `error` is followed by `asyncEnd` for the same command: count it once.
    this.redisStarts.delete(context as object);
    const command = String((context as { command?: unknown }).command ?? 'unknown').toLowerCase();
    this.redisCommandDuration.observe({ command, result }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
