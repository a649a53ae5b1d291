import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EnvironmentVariables } from './environment.js';

/** The validated, typed settings of one instance. Injected with `@Inject(SETTINGS)`. */
export interface Settings {
  env: 'development' | 'production' | 'test';
  http: {
    host: string;
    port: number;
    corsOrigins: string[] | '*';
    /** Express `trust proxy`. */
    trustProxy: boolean | number | string;
    /** REST requests per minute per verified user, and per address without a valid token. */
    rateLimitPerMinute: number;
    anonymousRateLimitPerMinute: number;
    maxSockets: number;
    /** 0: no bound per address (a trusted proxy's address is never bounded). */
    maxSocketsPerAddress: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    bodyIdleTimeoutMs: number;
  };
  jwt: {
    secret: string;
    algorithm: 'HS256' | 'HS384' | 'HS512';
    clockSkewS: number;
    requireExp: boolean;
    maxTtlS: number;
    issuer: string | undefined;
    audience: string | undefined;
    /** The secret before `secret`, accepted until `until` (epoch ms). */
    previous: { secret: string; until: number } | undefined;
  };
  ws: {
    path: string;
    heartbeatIntervalMs: number;
    maxPayloadBytes: number;
    /** `compiled` (default) or `class-validator`: see FRAME_VALIDATOR. */
    frameValidator: 'compiled' | 'class-validator';
    maxBufferedBytes: number;
    maxTotalBufferedBytes: number;
    maxConnections: number;
    maxConnectionsPerUser: number;
    /**
     * Frames per connection: a token bucket, and when sending too fast for too long counts as abuse;
     * bytes per user on this instance: a token bucket their connections share.
     */
    rateLimit: { perSecond: number; burst: number; bytesPerSecond: number; bytesBurst: number; abuseFactor: number; abuseWindowMs: number };
    /** permessage-deflate: off by default; when on, bounded per socket and in the process. */
    deflate: { enabled: boolean; thresholdBytes: number; memLevel: number; windowBits: number; concurrency: number };
  };
  typing: { throttleMs: number; ttlMs: number };
  limits: { maxRoomsPerConnection: number; maxMessageLength: number; maxRefLength: number; roomBacklogMax: number };
  quotas: { roomsCreatedPerUser: number; roomsCreatedPerMinute: number; membersPerRoom: number; roomsPerUser: number };
  messages: {
    dedupWindowMs: number;
    historyMaxPerRoom: number;
    historyMaxBytes: number;
    recoveryMaxMessages: number;
    recoveryBudgetPerMinute: number;
    searchMaxScanned: number;
    searchMaxScannedChars: number;
  };
  uploads: { dir: string; maxFileBytes: number; maxFiles: number; allowedTypes: string[]; urlTtlS: number; urlSecret: string };
  invitations: { guessesPerMinute: number; createdPerMinute: number };
  redis: {
    /** Whether instances share a Redis (a single one at `url`, through Sentinel, or a cluster at `clusterNodes`); false runs everything in memory. */
    enabled: boolean;
    url: string | undefined;
    /** Set when the master is found through Sentinel (then `url` is not used). */
    sentinel: { sentinels: Array<{ host: string; port: number }>; masterName: string; password: string | undefined } | undefined;
    /** Seeds of a Redis Cluster; empty when not one (when set, `url` is not used). */
    clusterNodes: Array<{ host: string; port: number }>;
    /** The servers' credentials with a cluster or Sentinel (a `url` carries its own); undefined fields: none. */
    auth: { username: string | undefined; password: string | undefined };
    /**
     * TLS (`REDIS_TLS` with a cluster or Sentinel, or a `rediss://` url), trusting `ca`
     * (`REDIS_TLS_CA_FILE`'s certificates; undefined: the system's); undefined: plain TCP.
     */
    tls: { ca: string | undefined } | undefined;
    /** `WAIT <replicas> <timeoutMs>` after each message write; 0 replicas: no wait. */
    wait: { replicas: number; timeoutMs: number };
    keyPrefix: string;
    instanceTtlMs: number;
    commandTimeoutMs: number;
    connectTimeoutMs: number;
    reconnect: { baseMs: number; maxMs: number };
  };
  shutdownGraceMs: number;
  /** The paced drain on SIGTERM: sockets closed in batches over this long. */
  drainDurationMs: number;
  /** `port` undefined: `/metrics` is served on the HTTP port. */
  metrics: { enabled: boolean; port: number | undefined };
  logging: { format: 'json' | 'pretty'; level: LogLevelName };
  docs: { apiDocs: boolean; landingPage: boolean };
  /** The page at /demo; `mintTokens` only in development, never with a production secret. */
  demo: { enabled: boolean; mintTokens: boolean };
}

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const SETTINGS = Symbol('SETTINGS');

/** Where the REST API lives; the WebSocket endpoint is under it. */
export const API_PREFIX = 'api/v1/chats';
export const WS_PATH = `/${API_PREFIX}/ws`;

export function toSettings(env: EnvironmentVariables): Settings {
  const origins = env.CORS_ORIGINS.trim();
  const demo = env.DEMO_ENABLED === 'true' || (env.DEMO_ENABLED === '' && env.NODE_ENV === 'development');
  // The demo page is served by the service itself, so its origin must be allowed to connect.
  const demoOrigins = demo ? [`http://localhost:${env.PORT}`, `http://127.0.0.1:${env.PORT}`] : [];
  const allowed = origins.split(',').map((o) => o.trim().replace(/\/$/, ''));
  const sentinel = env.REDIS_SENTINELS
    ? { sentinels: hostPorts(env.REDIS_SENTINELS), masterName: env.REDIS_SENTINEL_MASTER, password: env.REDIS_SENTINEL_PASSWORD || undefined }
    : undefined;
  return {
    env: env.NODE_ENV as Settings['env'],
    http: {
      host: env.HOST,
      port: env.PORT,
      corsOrigins: origins === '*' ? '*' : [...new Set([...allowed, ...demoOrigins])],
      trustProxy: toTrustProxy(env.TRUST_PROXY),
      rateLimitPerMinute: env.REST_RATE_LIMIT_PER_MINUTE,
      anonymousRateLimitPerMinute: env.REST_RATE_LIMIT_ANONYMOUS_PER_MINUTE,
      maxSockets: env.MAX_HTTP_SOCKETS,
      maxSocketsPerAddress: env.MAX_HTTP_SOCKETS_PER_ADDRESS,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      bodyIdleTimeoutMs: env.HTTP_BODY_IDLE_TIMEOUT_MS,
    },
    jwt: {
      secret: env.JWT_SECRET,
      algorithm: env.JWT_ALGORITHM as Settings['jwt']['algorithm'],
      clockSkewS: env.JWT_CLOCK_SKEW_S,
      requireExp: env.JWT_REQUIRE_EXP,
      maxTtlS: env.JWT_MAX_TTL_S,
      issuer: env.JWT_ISSUER || undefined,
      audience: env.JWT_AUDIENCE || undefined,
      previous: env.JWT_PREVIOUS_SECRET
        ? { secret: env.JWT_PREVIOUS_SECRET, until: Date.parse(env.JWT_PREVIOUS_SECRET_UNTIL) }
        : undefined,
    },
    ws: {
      path: WS_PATH,
      heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
      maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
      frameValidator: env.FRAME_VALIDATOR as Settings['ws']['frameValidator'],
      maxBufferedBytes: env.MAX_BUFFERED_BYTES,
      maxTotalBufferedBytes: env.MAX_TOTAL_BUFFERED_BYTES,
      maxConnections: env.MAX_CONNECTIONS,
      maxConnectionsPerUser: env.MAX_CONNECTIONS_PER_USER,
      rateLimit: {
        perSecond: env.RATE_LIMIT_PER_SECOND,
        burst: env.RATE_LIMIT_BURST,
        bytesPerSecond: env.RATE_LIMIT_BYTES_PER_SECOND,
        // Two seconds' worth, and never less than one largest frame: it must be able to pass.
        bytesBurst: Math.max(2 * env.RATE_LIMIT_BYTES_PER_SECOND, env.MAX_PAYLOAD_BYTES),
        abuseFactor: env.RATE_LIMIT_ABUSE_FACTOR,
        abuseWindowMs: env.RATE_LIMIT_ABUSE_WINDOW_MS,
      },
      deflate: {
        enabled: env.WS_PERMESSAGE_DEFLATE,
        thresholdBytes: env.WS_DEFLATE_THRESHOLD_BYTES,
        memLevel: env.WS_DEFLATE_MEM_LEVEL,
        windowBits: env.WS_DEFLATE_WINDOW_BITS,
        concurrency: env.WS_DEFLATE_CONCURRENCY,
      },
    },
    typing: { throttleMs: env.TYPING_THROTTLE_MS, ttlMs: env.TYPING_TTL_MS },
    limits: {
      maxRoomsPerConnection: env.MAX_ROOMS_PER_CONNECTION,
      maxMessageLength: env.MAX_MESSAGE_LENGTH,
      maxRefLength: env.MAX_REF_LENGTH,
      roomBacklogMax: env.ROOM_BACKLOG_MAX,
    },
    quotas: {
      roomsCreatedPerUser: env.MAX_ROOMS_CREATED_PER_USER,
      roomsCreatedPerMinute: env.ROOMS_CREATED_PER_MINUTE,
      membersPerRoom: env.MAX_MEMBERS_PER_ROOM,
      roomsPerUser: env.MAX_ROOMS_PER_USER,
    },
    messages: {
      dedupWindowMs: env.DEDUP_WINDOW_MS,
      historyMaxPerRoom: env.HISTORY_MAX_PER_ROOM,
      historyMaxBytes: env.HISTORY_MAX_BYTES,
      recoveryMaxMessages: env.RECOVERY_MAX_MESSAGES,
      recoveryBudgetPerMinute: env.RECOVERY_BUDGET_PER_MINUTE,
      searchMaxScanned: env.SEARCH_MAX_SCANNED,
      searchMaxScannedChars: env.SEARCH_MAX_SCANNED_CHARS,
    },
    uploads: {
      dir: env.UPLOAD_DIR,
      maxFileBytes: env.UPLOAD_MAX_FILE_BYTES,
      maxFiles: env.UPLOAD_MAX_FILES,
      allowedTypes: env.UPLOAD_ALLOWED_TYPES.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean),
      urlTtlS: env.FILE_URL_TTL_S,
      urlSecret: env.FILE_URL_SECRET || createHmac('sha256', env.JWT_SECRET).update('chat file urls').digest('hex'),
    },
    invitations: { guessesPerMinute: env.INVITATION_GUESSES_PER_MINUTE, createdPerMinute: env.INVITATIONS_CREATED_PER_MINUTE },
    redis: {
      enabled: Boolean(env.REDIS_URL || sentinel || env.REDIS_CLUSTER_NODES),
      url: env.REDIS_URL || undefined,
      sentinel,
      clusterNodes: env.REDIS_CLUSTER_NODES ? hostPorts(env.REDIS_CLUSTER_NODES) : [],
      auth: { username: env.REDIS_USERNAME || undefined, password: env.REDIS_PASSWORD || undefined },
      tls:
        env.REDIS_TLS || env.REDIS_URL.startsWith('rediss://')
          ? { ca: env.REDIS_TLS_CA_FILE ? readFileSync(env.REDIS_TLS_CA_FILE, 'utf8') : undefined }
          : undefined,
      wait: { replicas: env.REDIS_WAIT_REPLICAS, timeoutMs: env.REDIS_WAIT_TIMEOUT_MS },
      keyPrefix: env.REDIS_KEY_PREFIX,
      instanceTtlMs: env.INSTANCE_TTL_MS,
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: env.REDIS_CONNECT_TIMEOUT_MS,
      reconnect: { baseMs: env.REDIS_RECONNECT_BASE_MS, maxMs: env.REDIS_RECONNECT_MAX_MS },
    },
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    drainDurationMs: env.DRAIN_DURATION_MS,
    metrics: { enabled: env.METRICS_ENABLED, port: env.METRICS_PORT },
    logging: {
      format: (env.LOG_FORMAT || (env.NODE_ENV === 'production' ? 'json' : 'pretty')) as Settings['logging']['format'],
      level: env.LOG_LEVEL as LogLevelName,
    },
    docs: {
      apiDocs: env.API_DOCS_ENABLED,
      landingPage: env.LANDING_PAGE_ENABLED ? env.LANDING_PAGE_ENABLED === 'true' : env.NODE_ENV !== 'production',
    },
    demo: { enabled: demo, mintTokens: demo && env.NODE_ENV === 'development' },
  };
}

/** `host:port,host:port` (already validated) as addresses. */
function hostPorts(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((entry) => {
    const [host, port] = entry.trim().split(':');
    return { host, port: Number(port) };
  });
}

/** TRUST_PROXY as Express takes it: a boolean, a hop count, or the list of trusted addresses. */
function toTrustProxy(value: string): boolean | number | string {
  const text = value.trim();
  if (text === 'true') return true;
  if (text === 'false') return false;
  return /^\d+$/.test(text) ? Number(text) : text;
}
