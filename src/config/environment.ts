import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Transform, plainToInstance } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
  type ValidationOptions,
} from 'class-validator';
import ipaddr from 'ipaddr.js';
import { scrubText } from '../core/redact.js';

export const DEV_JWT_SECRET = 'dev-secret-change-me';

/**
 * A number written as a setting is (decimal digits, a sign and a fraction at
 * most) as a number; anything else stays as it is and fails validation: " "
 * is not 0, nor 0x10 sixteen.
 */
function toNumber(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

/** An ISO 8601 time with a zone: date, hours and minutes, optional seconds and fraction. */
const ISO_TIME = /^(|(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):(\d{2})))$/;

/** An `ISO_TIME` whose fields are in range (no 13th month, 30 February or +25:00), so it names one instant. */
function isRealTime(text: string): boolean {
  const match = ISO_TIME.exec(text);
  if (!match || Number.isNaN(Date.parse(text))) return false;
  const [year, month, day, hour, minute, second = 0] = [2, 3, 4, 5, 6, 7].map((i) => (match[i] === undefined ? undefined : Number(match[i]))) as number[];
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const inRange =
    utc.getUTCFullYear() === year && utc.getUTCMonth() === month - 1 && utc.getUTCDate() === day && utc.getUTCHours() === hour && utc.getUTCMinutes() === minute && utc.getUTCSeconds() === second;
  return inRange && (match[8] === 'Z' || (Number(match[9]) <= 14 && Number(match[10]) <= 59));
}

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}

/** A Redis URL that `new URL` reads, with a port in range and a password that decodes (ioredis reads it so). */
function IsRedisUrl(options: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isRedisUrl',
      validator: {
        validate: (value: unknown) => {
          if (value === '' || value === undefined) return true;
          try {
            const url = new URL(String(value));
            decodeURIComponent(url.password);
            // No host is localhost, as ioredis reads it (`redis:///0`).
            return isPort(url.port === '' ? 6379 : Number(url.port));
          } catch {
            return false;
          }
        },
      },
    },
    options,
  );
}

/** Names Express (`proxy-addr`) takes for address ranges. */
const PROXY_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** One item of a TRUST_PROXY list as Express reads it: a preset, or an address with an optional prefix length or netmask. */
function isTrustedProxy(item: string): boolean {
  if (PROXY_PRESETS.has(item)) return true;
  const [address, range, extra] = item.split('/');
  // IPv4 as four decimals only: ipaddr also reads `3232235777` as an address, which alone is a hop count here.
  if (extra !== undefined || !(ipaddr.IPv4.isValidFourPartDecimal(address) || ipaddr.IPv6.isValid(address))) return false;
  if (range === undefined) return true;
  const kind = ipaddr.parse(address).kind();
  // Express refuses a range of 0 (every address): that is `true`.
  if (/^\d+$/.test(range)) return Number(range) >= 1 && Number(range) <= (kind === 'ipv4' ? 32 : 128);
  return kind === 'ipv4' && ipaddr.IPv4.isValidFourPartDecimal(range) && (ipaddr.IPv4.parse(range).prefixLengthFromSubnetMask() ?? 0) >= 1;
}

/** Express `trust proxy`: `false`, `true`, a hop count, or a comma-separated list of trusted addresses or subnets. */
function IsTrustProxy(options: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTrustProxy',
      validator: {
        validate: (value: unknown) => {
          const text = String(value).trim();
          if (/^(false|true|\d{1,2})$/.test(text)) return true;
          return text.split(',').every((item) => isTrustedProxy(item.trim()));
        },
      },
    },
    options,
  );
}

/**
 * Every environment variable the service reads, with its default.
 * `.env.example` documents the same list; keep them in step.
 */
export class EnvironmentVariables {
  /** development | production | test. Outside development a real JWT_SECRET is required. */
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: string = 'development';

  /** HTTP and WebSocket port. */
  @IsInt() @Min(0) @Max(65535)
  PORT: number = 8000;

  /** Interface to listen on. */
  @IsString() @MinLength(1)
  HOST: string = '0.0.0.0';

  /** Shared secret of the main backend's tokens. */
  @IsString() @MinLength(16)
  JWT_SECRET: string = DEV_JWT_SECRET;

  /** The only accepted signing algorithm. */
  @IsIn(['HS256', 'HS384', 'HS512'])
  JWT_ALGORITHM: string = 'HS256';

  /** Seconds of clock difference tolerated on `exp`. */
  @IsInt() @Min(0) @Max(300)
  JWT_CLOCK_SKEW_S: number = 30;

  /** Refuse tokens without `exp`. */
  @Transform(({ obj, key }) => toBoolean((obj as Record<string, unknown>)[key]))
  @IsBoolean()
  JWT_REQUIRE_EXP: boolean = true;

  /** Longest token lifetime accepted, in seconds: `exp - iat`, or `exp - now` without `iat` (catches `exp` in milliseconds). */
  @IsInt() @Min(60) @Max(366 * 86_400)
  JWT_MAX_TTL_S: number = 86_400;

  /** When set, tokens must carry this `iss`. */
  @IsOptional() @IsString() @MaxLength(256)
  JWT_ISSUER: string = '';

  /** When set, tokens must carry this `aud` (or have it in their `aud` list). */
  @IsOptional() @IsString() @MaxLength(256)
  JWT_AUDIENCE: string = '';

  /** The secret before the current one, still accepted until JWT_PREVIOUS_SECRET_UNTIL (key rotation). */
  @IsString() @Matches(/^(|.{16,})$/, { message: 'JWT_PREVIOUS_SECRET must be empty or at least 16 characters' })
  JWT_PREVIOUS_SECRET: string = '';

  /** When JWT_PREVIOUS_SECRET stops being accepted (ISO 8601, a real time); required with it. */
  @IsOptional()
  @Matches(ISO_TIME, { message: 'JWT_PREVIOUS_SECRET_UNTIL must be an ISO 8601 time with a zone, e.g. 2026-12-31T00:00:00Z' })
  JWT_PREVIOUS_SECRET_UNTIL: string = '';

  /** Comma-separated allowed Origins (REST CORS and the WebSocket upgrade); `*` allows any. */
  @IsString()
  // An origin is scheme, host and port: with a path, query or fragment an entry could never match an Origin header.
  @Matches(/^(\*|https?:\/\/[^,\s/?#]+\/?(,\s*https?:\/\/[^,\s/?#]+\/?)*)$/, {
    message: 'CORS_ORIGINS must be `*` or a comma-separated list of http(s) origins (scheme, host and port only)',
  })
  CORS_ORIGINS: string = 'http://localhost:3000,http://localhost:3001,http://localhost:5173,http://localhost:8080';

  /** Protocol ping period; a connection silent for two periods is terminated. */
  @IsInt() @Min(100) @Max(600_000)
  HEARTBEAT_INTERVAL_MS: number = 10_000;

  /** Largest accepted frame; larger ones close the socket with 1009. */
  @IsInt() @Min(1024) @Max(16 * 1024 * 1024)
  MAX_PAYLOAD_BYTES: number = 65_536;

  /**
   * How frames are validated: `compiled` (each DTO's decorators built into one
   * function once) or `class-validator` (per frame). Both accept the same frames
   * and give the same errors; the second is there to compare against.
   */
  @IsIn(['compiled', 'class-validator'])
  FRAME_VALIDATOR: string = 'compiled';

  /** Unsent bytes a client may fall behind before it is closed with 1013. */
  @IsInt() @Min(1024)
  MAX_BUFFERED_BYTES: number = 4 * 1024 * 1024;

  /**
   * Unsent bytes of all connections together; past it, the connections
   * furthest behind are closed with 1013 first (checked four times a second).
   */
  @IsInt() @Min(1024)
  MAX_TOTAL_BUFFERED_BYTES: number = 256 * 1024 * 1024;

  /**
   * Events a room waits with while it catches up from the store, and frames
   * held for a joining connection; past it they are dropped and read again
   * from the store.
   */
  @IsInt() @Min(10) @Max(1_000_000)
  ROOM_BACKLOG_MAX: number = 1_000;

  /** Open sockets per process; further upgrades get 503. */
  @IsInt() @Min(1)
  MAX_CONNECTIONS: number = 10_000;

  /** Open sockets per user (across instances when Redis is configured); further upgrades of that user get 503. */
  @IsInt() @Min(1)
  MAX_CONNECTIONS_PER_USER: number = 20;

  /** Sustained frames per second per connection. */
  @IsInt() @Min(1) @Max(10_000)
  RATE_LIMIT_PER_SECOND: number = 20;

  /** Frames a connection may send at once above the sustained rate. */
  @IsInt() @Min(1) @Max(100_000)
  RATE_LIMIT_BURST: number = 40;

  /**
   * Bytes of frames a user's connections to this instance may send a second, together; at once, up to
   * twice that (and at least MAX_PAYLOAD_BYTES). Parsing costs by the byte, 30–50 ns for JSON of many
   * small values: frames alone would let each of a user's connections send 64 KiB 20 times a second.
   */
  @IsInt() @Min(1_024) @Max(1_073_741_824)
  RATE_LIMIT_BYTES_PER_SECOND: number = 65_536;

  /** A connection sending at this many times RATE_LIMIT_PER_SECOND … */
  @IsInt() @Min(2) @Max(1_000)
  RATE_LIMIT_ABUSE_FACTOR: number = 5;

  /** … for this long without a break is abusive and is closed with 1008. */
  @IsInt() @Min(1_000) @Max(600_000)
  RATE_LIMIT_ABUSE_WINDOW_MS: number = 10_000;

  /** REST requests per minute per user (a verified token's `sub`), across instances when REDIS_URL is set; more get 429. */
  @IsInt() @Min(1)
  REST_RATE_LIMIT_PER_MINUTE: number = 600;

  /** REST requests per minute per client address without a valid token; more get 429. */
  @IsInt() @Min(1)
  REST_RATE_LIMIT_ANONYMOUS_PER_MINUTE: number = 120;

  /** Express `trust proxy`: `false`, `true`, a number of proxy hops, or comma-separated addresses/subnets of trusted proxies. */
  @IsString()
  @IsTrustProxy({
    message: 'TRUST_PROXY must be false, true, a hop count, or a comma-separated list of addresses or subnets (10.0.0.0/8, 10.0.0.0/255.0.0.0, ::1) and loopback, linklocal or uniquelocal',
  })
  TRUST_PROXY: string = 'false';

  /** Open TCP sockets per process (HTTP and WebSocket together); further ones are closed at once. At least MAX_CONNECTIONS. */
  @IsInt() @Min(1)
  MAX_HTTP_SOCKETS: number = 11_000;

  /**
   * Open TCP sockets per client address, so that one address cannot take every MAX_HTTP_SOCKETS slot; 0 turns it off.
   * A proxy TRUST_PROXY trusts is not bounded: every socket of its clients has its address (limit per client there).
   * With `true` or a hop count of 1 or more, TRUST_PROXY trusts every peer, so nothing is bounded.
   */
  @IsInt() @Min(0)
  MAX_HTTP_SOCKETS_PER_ADDRESS: number = 1_000;

  /** A client must send a request's headers within this long, or its socket is closed. */
  @IsInt() @Min(1_000) @Max(120_000)
  HTTP_HEADERS_TIMEOUT_MS: number = 10_000;

  /**
   * A client must send a whole request within this long, or it gets 408. An upload is one request:
   * the most it takes (UPLOAD_MAX_FILES × UPLOAD_MAX_FILE_BYTES, 100 MiB) needs 2.8 Mbit/s within 5 minutes.
   */
  @IsInt() @Min(1_000) @Max(3_600_000)
  HTTP_REQUEST_TIMEOUT_MS: number = 300_000;

  /** A request's body that stops coming for this long (up to twice it) gets 408: a stalled upload does not hold its socket until HTTP_REQUEST_TIMEOUT_MS. */
  @IsInt() @Min(1_000) @Max(3_600_000)
  HTTP_BODY_IDLE_TIMEOUT_MS: number = 30_000;

  /** At most one `typing` broadcast per user and room per window. */
  @IsInt() @Min(0) @Max(60_000)
  TYPING_THROTTLE_MS: number = 1_000;

  /** Typing ends by itself this long after the latest start. */
  @IsInt() @Min(100) @Max(600_000)
  TYPING_TTL_MS: number = 5_000;

  /** Rooms one user may create in all (service tokens are exempt). */
  @IsInt() @Min(1)
  MAX_ROOMS_CREATED_PER_USER: number = 1_000;

  /** Rooms one user may create per minute (service tokens are exempt). */
  @IsInt() @Min(1)
  ROOMS_CREATED_PER_MINUTE: number = 60;

  /** Members one room may have. */
  @IsInt() @Min(2) @Max(100_000)
  MAX_MEMBERS_PER_ROOM: number = 1_000;

  /** Rooms one user may be a member of. */
  @IsInt() @Min(1) @Max(100_000)
  MAX_ROOMS_PER_USER: number = 1_000;

  /** Rooms one connection may join. */
  @IsInt() @Min(1) @Max(10_000)
  MAX_ROOMS_PER_CONNECTION: number = 100;

  /** Longest message `content`, in JavaScript string length. */
  @IsInt() @Min(1) @Max(1_000_000)
  MAX_MESSAGE_LENGTH: number = 4_000;

  /** Longest `ref` a client may attach to a frame. */
  @IsInt() @Min(1) @Max(1024)
  MAX_REF_LENGTH: number = 64;

  /** How long a `client_msg_id` is remembered for deduplication. */
  @IsInt() @Min(1_000)
  DEDUP_WINDOW_MS: number = 10 * 60_000;

  /** Messages kept per room (older ones are trimmed). */
  @IsInt() @Min(1)
  HISTORY_MAX_PER_ROOM: number = 10_000;

  /** Embedded mode: bytes of history of all rooms together (estimated); past it the oldest messages of any room go first. */
  @IsInt() @Min(1024 * 1024)
  HISTORY_MAX_BYTES: number = 256 * 1024 * 1024;

  /** Messages one connection may recover per minute over all its joins (a token bucket); past it, `recovered: false`. */
  @IsInt() @Min(1) @Max(10_000_000)
  RECOVERY_BUDGET_PER_MINUTE: number = 5_000;

  /** Most messages one `join_room` with `since` may replay; beyond it, `recovered: false`. */
  @IsInt() @Min(1) @Max(100_000)
  RECOVERY_MAX_MESSAGES: number = 1_000;

  /** Most messages one search reads (newest first, in batches); older history is not searched. */
  @IsInt() @Min(1) @Max(1_000_000)
  SEARCH_MAX_SCANNED: number = 10_000;

  /**
   * Most characters (UTF-16 units) of content one search reads, over all its
   * messages: comparing costs by the character, up to 40 times more for some
   * scripts. Older history is not searched.
   */
  @IsInt() @Min(1) @Max(1_000_000_000)
  SEARCH_MAX_SCANNED_CHARS: number = 4_000_000;

  /** Directory of uploaded files (the local file store); replicas must share it (a volume). */
  @IsString() @MinLength(1) @MaxLength(1024)
  UPLOAD_DIR: string = './uploads';

  /** Largest uploaded file, in bytes; a larger one is refused while it streams in. */
  @IsInt() @Min(1) @Max(1024 * 1024 * 1024)
  UPLOAD_MAX_FILE_BYTES: number = 10 * 1024 * 1024;

  /** Most files in one upload. */
  @IsInt() @Min(1) @Max(100)
  UPLOAD_MAX_FILES: number = 10;

  /** Media types an upload may have, as detected from the file's first bytes (comma-separated). */
  @IsString() @MinLength(1) @MaxLength(4096)
  UPLOAD_ALLOWED_TYPES: string = 'image/png,image/jpeg,image/gif,image/webp,application/pdf';

  /** How long a signed file URL works, in seconds. */
  @IsInt() @Min(10) @Max(7 * 24 * 3600)
  FILE_URL_TTL_S: number = 3600;

  /** Key of the file URLs' signatures; empty derives one from JWT_SECRET. Every instance needs the same. */
  @IsString() @MaxLength(1024)
  FILE_URL_SECRET: string = '';

  /** Answers "no such invitation code" one user (or address) may get per minute; past it, 429. */
  @IsInt() @Min(1) @Max(10_000)
  INVITATION_GUESSES_PER_MINUTE: number = 10;

  /** Invitation codes one user may make per minute (service tokens are exempt); each is kept until 7 days after it expires. */
  @IsInt() @Min(1) @Max(10_000)
  INVITATIONS_CREATED_PER_MINUTE: number = 20;

  /** Shared Redis (`redis://host:port/db`); empty runs everything in this process. */
  @IsOptional()
  @Matches(/^(|rediss?:\/\/\S+)$/, { message: 'REDIS_URL must be empty or a redis:// or rediss:// URL' })
  @IsRedisUrl({ message: 'REDIS_URL must be a URL with a port from 1 to 65535 and its password percent-encoded' })
  REDIS_URL: string = '';

  /**
   * Redis Cluster seed nodes (`host:port,host:port`); when set, used instead
   * of `REDIS_URL`: room events go on sharded pub/sub (docs/ARCHITECTURE.md, "Redis Cluster").
   */
  @IsOptional()
  @Matches(/^(|[^\s,:]+:\d{1,5}(,\s*[^\s,:]+:\d{1,5})*)$/, { message: 'REDIS_CLUSTER_NODES must be empty or a comma-separated list of host:port' })
  REDIS_CLUSTER_NODES: string = '';

  /**
   * Sentinels to ask for the master (comma-separated `host:port`); when set,
   * used instead of REDIS_URL, and the instances follow a failover by themselves.
   */
  @IsOptional()
  @Matches(/^(|[^\s,:]+:\d{1,5}(,\s*[^\s,:]+:\d{1,5})*)$/, {
    message: 'REDIS_SENTINELS must be empty or a comma-separated list of host:port',
  })
  REDIS_SENTINELS: string = '';

  /** The name the sentinels monitor the master under (`sentinel monitor <name> …`); required with REDIS_SENTINELS. */
  @IsString() @MaxLength(128)
  REDIS_SENTINEL_MASTER: string = '';

  /** The ACL user of the Redis servers (cluster nodes, or the master and replicas Sentinel names); REDIS_URL carries its own. */
  @IsString() @MaxLength(256)
  REDIS_USERNAME: string = '';

  /** The password of the Redis servers (`requirepass`, or REDIS_USERNAME's); REDIS_URL carries its own. */
  @IsString() @MaxLength(512)
  REDIS_PASSWORD: string = '';

  /** The sentinels' own password, when they have one (`requirepass` in sentinel.conf). */
  @IsString() @MaxLength(512)
  REDIS_SENTINEL_PASSWORD: string = '';

  /** TLS to the cluster nodes, or to the sentinels and the servers they name; a REDIS_URL says so itself (`rediss://`). */
  @Transform(({ obj, key }) => toBoolean((obj as Record<string, unknown>)[key]))
  @IsBoolean()
  REDIS_TLS: boolean = false;

  /** The certificate authority (PEM) that signed the Redis servers' certificates, with REDIS_TLS or a `rediss://` REDIS_URL; empty trusts the system's. */
  @IsString() @MaxLength(4096)
  REDIS_TLS_CA_FILE: string = '';

  /**
   * Replicas that must hold a message before its sender gets the ack (`WAIT`
   * after each write); 0 does not wait. With Sentinel, 1 means an
   * acknowledged message survives the promotion of a replica; on a cluster,
   * the replicas of the master that took the write.
   */
  @IsInt() @Min(0) @Max(16)
  REDIS_WAIT_REPLICAS: number = 0;

  /** How long a write waits for REDIS_WAIT_REPLICAS; fewer in time and the sender gets `unavailable`. Keep it below REDIS_COMMAND_TIMEOUT_MS. */
  @IsInt() @Min(10) @Max(60_000)
  REDIS_WAIT_TIMEOUT_MS: number = 500;

  /** Prefix for every Redis key and channel of this service. */
  @IsString() @MaxLength(64)
  REDIS_KEY_PREFIX: string = '';

  /** An instance that stopped heartbeating this long is presumed dead; others clear its presence and typing. */
  @IsInt() @Min(1_000) @Max(600_000)
  INSTANCE_TTL_MS: number = 15_000;

  /** A Redis command that has no answer after this long fails (and the caller answers `unavailable`). */
  @IsInt() @Min(100) @Max(60_000)
  REDIS_COMMAND_TIMEOUT_MS: number = 2_000;

  /** A connection attempt to Redis gives up after this long; start-up waits at most this long for Redis. */
  @IsInt() @Min(100) @Max(60_000)
  REDIS_CONNECT_TIMEOUT_MS: number = 2_000;

  /** First wait before reconnecting to Redis; it doubles on each failed attempt … */
  @IsInt() @Min(10) @Max(60_000)
  REDIS_RECONNECT_BASE_MS: number = 100;

  /** … up to this wait between attempts. */
  @IsInt() @Min(10) @Max(600_000)
  REDIS_RECONNECT_MAX_MS: number = 2_000;

  /** Serve Prometheus metrics at `GET /metrics`. */
  @Transform(({ obj, key }) => toBoolean((obj as Record<string, unknown>)[key]))
  @IsBoolean()
  METRICS_ENABLED: boolean = true;

  /** Port of `/metrics`; unset serves it on PORT, another port gets a small server of its own. */
  @IsOptional() @IsInt() @Min(0) @Max(65535) @Transform(({ obj, key }) => toNumber((obj as Record<string, unknown>)[key]))
  METRICS_PORT?: number = undefined;

  /** `json` (one object per line) or `pretty`; empty: json when NODE_ENV is production, else pretty. */
  @IsIn(['', 'json', 'pretty'])
  LOG_FORMAT: string = '';

  /** Lowest level logged. */
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  /** Serve the OpenAPI document at `/api/docs` (UI) and `/api/docs-json`. */
  @Transform(({ obj, key }) => toBoolean((obj as Record<string, unknown>)[key]))
  @IsBoolean()
  API_DOCS_ENABLED: boolean = true;

  /** Serve the landing page at `/`; empty: on unless NODE_ENV is production. */
  @Transform(({ obj, key }) => toOptionalSwitch((obj as Record<string, unknown>)[key]))
  @IsIn(['', 'true', 'false'])
  LANDING_PAGE_ENABLED: string = '';

  /**
   * The browser demo at /demo: `true`, `false`, or empty for "on when NODE_ENV=development".
   * While on, the service's own localhost origins may connect; it mints sign-in tokens only in development.
   */
  @Transform(({ obj, key }) => toOptionalSwitch((obj as Record<string, unknown>)[key]))
  @IsIn(['', 'true', 'false'])
  DEMO_ENABLED: string = '';

  /** How long shutdown waits for sockets to close, then as long for HTTP requests under way, before exiting. */
  @IsInt() @Min(0) @Max(60_000)
  SHUTDOWN_GRACE_MS: number = 3_000;

  /** On SIGTERM, sockets are closed (1012) in batches spread over this long; then SHUTDOWN_GRACE_MS for their close handshakes. */
  @IsInt() @Min(0) @Max(300_000)
  DRAIN_DURATION_MS: number = 10_000;

  /** Offer permessage-deflate (compressed frames) to clients that ask for it. */
  @Transform(({ obj, key }) => toBoolean((obj as Record<string, unknown>)[key]))
  @IsBoolean()
  WS_PERMESSAGE_DEFLATE: boolean = false;

  /** With deflate on: frames smaller than this are sent uncompressed. */
  @IsInt() @Min(0) @Max(16 * 1024 * 1024)
  WS_DEFLATE_THRESHOLD_BYTES: number = 1_024;

  /** With deflate on: zlib memLevel of each socket's compressor (1–9; memory 2^(memLevel+9) bytes). */
  @IsInt() @Min(1) @Max(9)
  WS_DEFLATE_MEM_LEVEL: number = 5;

  /** With deflate on: the server's LZ77 window, as bits (9–15; memory 2^(bits+2) bytes per compressor). */
  @IsInt() @Min(9) @Max(15)
  WS_DEFLATE_WINDOW_BITS: number = 12;

  /** With deflate on: compressions running at once in the process (zlib work goes to the thread pool). */
  @IsInt() @Min(1) @Max(1_000)
  WS_DEFLATE_CONCURRENCY: number = 10;
}

/** `true`/`false` (any case, or 1/0) as a boolean; anything else stays as it is and fails validation. */
function toBoolean(value: unknown): unknown {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  return value;
}

/** A switch that may be left empty (decided by NODE_ENV): '' as it is, else read as `toBoolean` reads it, as 'true' or 'false'. */
function toOptionalSwitch(value: unknown): unknown {
  if (value === '' || value === undefined) return '';
  const on = toBoolean(value);
  return typeof on === 'boolean' ? String(on) : value;
}

export type Environment = { [K in keyof EnvironmentVariables]?: string | number | boolean };

/**
 * Turns raw variables into a validated `EnvironmentVariables`, or throws one
 * error whose message lists every bad variable and what it accepts.
 */
export function parseEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const defaults = new EnvironmentVariables() as unknown as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(defaults)) {
    const value = raw[key];
    if (value === undefined || value === '') continue;
    // A setting whose default is a number is read as one here (plain decimals only), not by implicit
    // conversion, which reads any Number() form and needs type metadata that tsx does not emit.
    picked[key] = typeof defaults[key] === 'number' ? toNumber(value) : value;
  }
  const env = plainToInstance(EnvironmentVariables, picked);
  const problems = validateSync(env, { forbidUnknownValues: true }).map((error) => {
    // A number written some other way (1e6, 0x10, blank) is said so, not measured against the bounds.
    const notDecimal = error.constraints?.isInt !== undefined && typeof error.value === 'string';
    const rules = notDecimal ? ['must be a plain decimal integer'] : Object.values(error.constraints ?? {}).map((text) => text.replace(`${error.property} `, ''));
    // Never a secret, nor a URL's password or query, in the message: it is printed as it is.
    const shown = /SECRET|PASSWORD/.test(error.property) ? '(hidden)' : scrubText(JSON.stringify(raw[error.property]));
    return `${error.property}=${shown}: ${rules.join(', ')}`;
  });
  if (env.NODE_ENV !== 'development' && env.JWT_SECRET === DEV_JWT_SECRET) {
    problems.push(`JWT_SECRET must be set to a real secret when NODE_ENV is ${env.NODE_ENV}`);
  }
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_MASTER) {
    problems.push('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set');
  }
  if (env.REDIS_SENTINEL_MASTER && !env.REDIS_SENTINELS) {
    problems.push('REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS: name the sentinels too, or unset it');
  }
  // One mode at a time: a cluster has no single master for Sentinel to name, and either finds Redis without REDIS_URL.
  if (env.REDIS_CLUSTER_NODES && env.REDIS_SENTINELS) {
    problems.push('REDIS_CLUSTER_NODES and REDIS_SENTINELS cannot both be set: choose a cluster or a master found through Sentinel');
  }
  if ((env.REDIS_USERNAME || env.REDIS_PASSWORD) && env.REDIS_URL) {
    problems.push('REDIS_USERNAME and REDIS_PASSWORD are for REDIS_CLUSTER_NODES and REDIS_SENTINELS: with REDIS_URL, put them in the URL');
  }
  if (env.REDIS_SENTINEL_PASSWORD && !env.REDIS_SENTINELS) problems.push('REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS');
  if (env.REDIS_TLS && !env.REDIS_CLUSTER_NODES && !env.REDIS_SENTINELS) {
    problems.push('REDIS_TLS is for REDIS_CLUSTER_NODES and REDIS_SENTINELS: with REDIS_URL, write rediss://');
  }
  const tls = env.REDIS_TLS || env.REDIS_URL.startsWith('rediss://');
  if (env.REDIS_TLS_CA_FILE && !tls) problems.push('REDIS_TLS_CA_FILE is set without TLS: set REDIS_TLS, or a rediss:// REDIS_URL');
  if (env.REDIS_TLS_CA_FILE && tls) {
    const problem = caFileProblem(env.REDIS_TLS_CA_FILE);
    if (problem) problems.push(`REDIS_TLS_CA_FILE=${JSON.stringify(env.REDIS_TLS_CA_FILE)}: ${problem}`);
  }
  for (const name of ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const) {
    if (env[name] && env.REDIS_URL) problems.push(`REDIS_URL and ${name} cannot both be set: ${name} finds Redis by itself`);
    const unreachable = env[name].split(',').map((node) => node.trim()).find((node) => node !== '' && !isPort(Number(node.split(':').at(-1))));
    if (unreachable !== undefined) problems.push(`${name}: ${JSON.stringify(unreachable)} has no port from 1 to 65535`);
  }
  if (env.REDIS_WAIT_REPLICAS > 0 && env.REDIS_WAIT_TIMEOUT_MS >= env.REDIS_COMMAND_TIMEOUT_MS) {
    problems.push('REDIS_WAIT_TIMEOUT_MS must be below REDIS_COMMAND_TIMEOUT_MS when REDIS_WAIT_REPLICAS is set');
  }
  if (env.JWT_PREVIOUS_SECRET_UNTIL && ISO_TIME.test(env.JWT_PREVIOUS_SECRET_UNTIL) && !isRealTime(env.JWT_PREVIOUS_SECRET_UNTIL)) {
    problems.push(`JWT_PREVIOUS_SECRET_UNTIL=${JSON.stringify(env.JWT_PREVIOUS_SECRET_UNTIL)}: not a real time (month, day, hour, minute, second or zone out of range)`);
  }
  if (env.JWT_PREVIOUS_SECRET && !env.JWT_PREVIOUS_SECRET_UNTIL) {
    problems.push('JWT_PREVIOUS_SECRET needs JWT_PREVIOUS_SECRET_UNTIL: when the previous secret stops being accepted');
  }
  if (env.MAX_HTTP_SOCKETS < env.MAX_CONNECTIONS) {
    problems.push(`MAX_HTTP_SOCKETS=${env.MAX_HTTP_SOCKETS} must be at least MAX_CONNECTIONS=${env.MAX_CONNECTIONS}`);
  }
  if (problems.length > 0) {
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  return env;
}

/** Why a CA file cannot serve (unreadable, or no PEM certificate in it), or undefined. */
function caFileProblem(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return text.includes('-----BEGIN CERTIFICATE-----') ? undefined : 'holds no PEM certificate';
}

/** The validated environment outside Nest (command-line tools): `.env` if present, then the process's variables. */
export function loadEnvironment(): EnvironmentVariables {
  try {
    process.loadEnvFile();
  } catch {
    // No .env file: the process environment alone.
  }
  return parseEnvironment(process.env);
}
