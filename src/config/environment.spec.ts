import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_JWT_SECRET, EnvironmentVariables, parseEnvironment } from './environment.js';
import { toSettings, WS_PATH } from './settings.js';

const SECRET = 'x'.repeat(32);

function parseError(raw: Record<string, unknown>): string {
  try {
    parseEnvironment(raw);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('parseEnvironment accepted the environment');
}

describe(EnvironmentVariables.name, () => {
  describe(parseEnvironment.name, () => {
    it('fills every variable with its default in development', () => {
      const env = parseEnvironment({});

      expect(env).toMatchObject({
        NODE_ENV: 'development',
        PORT: 8000,
        HOST: '0.0.0.0',
        JWT_SECRET: DEV_JWT_SECRET,
        JWT_ALGORITHM: 'HS256',
        JWT_CLOCK_SKEW_S: 30,
        HEARTBEAT_INTERVAL_MS: 10_000,
        MAX_PAYLOAD_BYTES: 65_536,
        RATE_LIMIT_PER_SECOND: 20,
        RATE_LIMIT_BURST: 40,
        TYPING_THROTTLE_MS: 1_000,
        TYPING_TTL_MS: 5_000,
        MAX_ROOMS_PER_CONNECTION: 100,
        MAX_MESSAGE_LENGTH: 4_000,
        MAX_REF_LENGTH: 64,
        DEDUP_WINDOW_MS: 600_000,
        HISTORY_MAX_PER_ROOM: 10_000,
        REDIS_URL: '',
        REDIS_KEY_PREFIX: '',
      });
    });

    it('reads numbers from strings', () => {
      const env = parseEnvironment({
        PORT: '8080',
        RATE_LIMIT_PER_SECOND: '5',
        TYPING_TTL_MS: '2500',
        HISTORY_MAX_PER_ROOM: '3',
      });

      expect(env.PORT).toBe(8080);
      expect(env.RATE_LIMIT_PER_SECOND).toBe(5);
      expect(env.TYPING_TTL_MS).toBe(2500);
      expect(env.HISTORY_MAX_PER_ROOM).toBe(3);
    });

    it('reads numbers from strings without the emitted type metadata (as under tsx, which emits none)', () => {
      const prototype = EnvironmentVariables.prototype;
      const keys = ['PORT', 'RATE_LIMIT_PER_SECOND', 'METRICS_PORT'];
      const saved = keys.map((key) => Reflect.getMetadata('design:type', prototype, key) as unknown);
      for (const key of keys) Reflect.deleteMetadata('design:type', prototype, key);
      try {
        const env = parseEnvironment({ PORT: '8001', RATE_LIMIT_PER_SECOND: '5', METRICS_PORT: '9464' });
        expect([env.PORT, env.RATE_LIMIT_PER_SECOND, env.METRICS_PORT]).toEqual([8001, 5, 9464]);
        expect(parseError({ PORT: 'eighty' })).toContain('PORT="eighty": ');
      } finally {
        keys.forEach((key, i) => Reflect.defineMetadata('design:type', saved[i], prototype, key));
      }
    });

    it('treats an empty variable as unset', () => {
      const env = parseEnvironment({ PORT: '', HOST: '', REDIS_URL: '' });

      expect(env.PORT).toBe(8000);
      expect(env.HOST).toBe('0.0.0.0');
      expect(env.REDIS_URL).toBe('');
    });

    it('ignores variables it does not know', () => {
      const env = parseEnvironment({ PATH: '/usr/bin', SOMETHING_ELSE: 'x' });

      expect(env).not.toHaveProperty('PATH');
      expect(env).not.toHaveProperty('SOMETHING_ELSE');
    });

    it('refuses numbers that are not integers or out of range', () => {
      expect(parseError({ PORT: 'abc' })).toContain('PORT');
      expect(parseError({ PORT: '80.5' })).toContain('PORT');
      expect(parseError({ PORT: '70000' })).toContain('PORT');
      expect(parseError({ RATE_LIMIT_BURST: '0' })).toContain('RATE_LIMIT_BURST');
    });

    it('reads only plain decimals as numbers: blank, hex and exponent forms are refused, not read as 0 or converted', () => {
      for (const value of [' ', '  ', '0x10', '1e3', '+5', '10 ', 'Infinity']) {
        expect(parseError({ PORT: value })).toContain('PORT=');
        expect(parseError({ METRICS_PORT: value })).toContain('METRICS_PORT=');
      }
      expect(parseEnvironment({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
      expect(parseError({ SHUTDOWN_GRACE_MS: ' ' })).toContain('SHUTDOWN_GRACE_MS');
      expect(parseError({ HISTORY_MAX_BYTES: '1e6' })).toBe('Invalid configuration: HISTORY_MAX_BYTES="1e6": must be a plain decimal integer');
      expect(parseEnvironment({ PORT: '0' }).PORT).toBe(0);
      expect(parseEnvironment({ TYPING_TTL_MS: '5000' }).TYPING_TTL_MS).toBe(5000);
    });

    it('refuses a JWT_PREVIOUS_SECRET_UNTIL that names no real time (the previous secret would never expire)', () => {
      const previous = { JWT_PREVIOUS_SECRET: 'p'.repeat(16) };
      for (const until of ['2020-01-01T00:00:00+25:00', '2026-13-45T99:99Z', '2025-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:60Z', '2026-01-01T00:00:00+10:75']) {
        expect(parseError({ ...previous, JWT_PREVIOUS_SECRET_UNTIL: until })).toContain('JWT_PREVIOUS_SECRET_UNTIL');
      }
      for (const until of ['2026-12-31T00:00:00Z', '2024-02-29T23:59:59.999+14:00', '2026-06-01T12:30-05:30']) {
        expect(parseEnvironment({ ...previous, JWT_PREVIOUS_SECRET_UNTIL: until }).JWT_PREVIOUS_SECRET_UNTIL).toBe(until);
      }
    });

    it('refuses a REDIS_URL that is no URL, without printing its password', () => {
      for (const url of ['redis://:hunter2pass@127.0.0.1:99999', 'redis://host:port', 'redis://[::1', 'redis://:p%zz@127.0.0.1:6379', 'redis://:0']) {
        const message = parseError({ REDIS_URL: url });
        expect(message).toContain('REDIS_URL');
        expect(message).not.toMatch(/hunter2|p%zz/);
      }
      for (const url of ['redis://:s%40cret@redis.internal:6380/2', 'redis:///0', 'rediss://user:pass@[::1]:6380', 'redis://redis']) {
        expect(parseEnvironment({ REDIS_URL: url }).REDIS_URL).toBe(url);
      }
    });

    it('refuses a TRUST_PROXY Express would not read, naming the variable', () => {
      for (const value of ['notanip', '10.0.0.0/99', '10.0.0.0/255.0.255.0', '::1/129', '10.0.0.1,', 'loopback, 10.0.0.0/8/8', '1.2.3', '0.0.0.0/0', '::/0', '10.0.0.0/0.0.0.0', '3232235777']) {
        expect(parseError({ TRUST_PROXY: value })).toContain('TRUST_PROXY');
      }
      for (const value of ['false', 'true', '2', 'loopback', '10.0.0.0/8, 192.168.1.7', '10.0.0.0/255.0.0.0', 'fd00::/8,linklocal, uniquelocal', '::ffff:10.0.0.1']) {
        expect(parseEnvironment({ TRUST_PROXY: value }).TRUST_PROXY).toBe(value);
      }
    });

    it('refuses values outside a closed list', () => {
      expect(parseError({ NODE_ENV: 'staging', JWT_SECRET: SECRET })).toContain('NODE_ENV');
      expect(parseError({ JWT_ALGORITHM: 'none' })).toContain('JWT_ALGORITHM');
      expect(parseError({ JWT_ALGORITHM: 'RS256' })).toContain('JWT_ALGORITHM');
    });

    it('throws one error naming every bad variable and none of the good ones', () => {
      const message = parseError({
        NODE_ENV: 'test',
        JWT_SECRET: SECRET,
        PORT: 'abc',
        HOST: 'chat.internal',
        RATE_LIMIT_BURST: '0',
        TYPING_TTL_MS: '-1',
        JWT_ALGORITHM: 'none',
        CORS_ORIGINS: 'example.com',
        REDIS_URL: 'http://localhost:6379',
      });

      for (const name of ['PORT', 'RATE_LIMIT_BURST', 'TYPING_TTL_MS', 'JWT_ALGORITHM', 'CORS_ORIGINS', 'REDIS_URL']) {
        expect(message).toContain(name);
      }
      expect(message).not.toContain('HOST');
      expect(message).not.toContain('NODE_ENV');
      expect(message).not.toContain('JWT_SECRET');
    });

    describe('JWT_SECRET', () => {
      it.each(['production', 'test'])('refuses a missing secret in %s', (nodeEnv) => {
        expect(parseError({ NODE_ENV: nodeEnv })).toContain('JWT_SECRET');
      });

      it.each(['production', 'test'])('refuses the development default in %s', (nodeEnv) => {
        expect(parseError({ NODE_ENV: nodeEnv, JWT_SECRET: DEV_JWT_SECRET })).toContain('JWT_SECRET');
      });

      it('accepts the default in development', () => {
        expect(parseEnvironment({ NODE_ENV: 'development' }).JWT_SECRET).toBe(DEV_JWT_SECRET);
      });

      it('accepts a real secret outside development', () => {
        expect(parseEnvironment({ NODE_ENV: 'production', JWT_SECRET: SECRET }).JWT_SECRET).toBe(SECRET);
      });

      it('refuses a secret that is too short, even in development', () => {
        expect(parseError({ NODE_ENV: 'development', JWT_SECRET: 'short' })).toContain('JWT_SECRET');
      });

      it('lists the missing secret together with the other problems', () => {
        const message = parseError({ NODE_ENV: 'production', PORT: 'abc' });

        expect(message).toContain('JWT_SECRET');
        expect(message).toContain('PORT');
      });
    });

    describe('CORS_ORIGINS', () => {
      it('accepts `*` and a comma-separated list of http(s) origins', () => {
        expect(parseEnvironment({ CORS_ORIGINS: '*' }).CORS_ORIGINS).toBe('*');
        expect(parseEnvironment({ CORS_ORIGINS: 'https://a.example, http://b.example:8080' }).CORS_ORIGINS).toBe(
          'https://a.example, http://b.example:8080',
        );
      });

      it.each(['a.example', 'ftp://a.example', 'https://a.example,', 'https://a.example,*', '*,https://a.example', 'http://a.example/app/', 'https://a.example?x=1', 'https://a.example#top'])(
        'refuses %j',
        (origins) => {
          expect(parseError({ CORS_ORIGINS: origins })).toContain('CORS_ORIGINS');
        },
      );
    });
  });

  describe(toSettings.name, () => {
    it('maps the defaults into the typed settings', () => {
      const settings = toSettings(parseEnvironment({}));

      expect(settings).toMatchObject({
        env: 'development',
        http: {
          host: '0.0.0.0',
          port: 8000,
          // FocusMate's four, then the demo page's own (on in development).
          corsOrigins: [
            'http://localhost:3000',
            'http://localhost:3001',
            'http://localhost:5173',
            'http://localhost:8080',
            'http://localhost:8000',
            'http://127.0.0.1:8000',
          ],
        },
        jwt: { secret: DEV_JWT_SECRET, algorithm: 'HS256', clockSkewS: 30 },
        ws: {
          path: WS_PATH,
          heartbeatIntervalMs: 10_000,
          maxPayloadBytes: 65_536,
          maxBufferedBytes: 4 * 1024 * 1024,
          maxConnections: 10_000,
          rateLimit: { perSecond: 20, burst: 40 },
        },
        typing: { throttleMs: 1_000, ttlMs: 5_000 },
        limits: { maxRoomsPerConnection: 100, maxMessageLength: 4_000, maxRefLength: 64 },
        messages: { dedupWindowMs: 600_000, historyMaxPerRoom: 10_000, recoveryMaxMessages: 1_000 },
        redis: { keyPrefix: '' },
        shutdownGraceMs: 3_000,
      });
      expect(settings.redis.url).toBeUndefined();
    });

    it('carries numbers read from strings', () => {
      const settings = toSettings(
        parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: SECRET, TYPING_THROTTLE_MS: '250', RATE_LIMIT_BURST: '7' }),
      );

      expect(settings.env).toBe('test');
      expect(settings.typing.throttleMs).toBe(250);
      expect(settings.ws.rateLimit.burst).toBe(7);
    });

    it('splits the origin list, trimming spaces and trailing slashes', () => {
      const settings = toSettings(parseEnvironment({ CORS_ORIGINS: 'https://a.example/, http://b.example:8080', DEMO_ENABLED: 'false' }));

      expect(settings.http.corsOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    });

    it('turns the demo on in development only, allows its origin, and mints tokens only in development', () => {
      const dev = toSettings(parseEnvironment({ PORT: 8123, CORS_ORIGINS: 'https://a.example' }));
      expect(dev.demo).toEqual({ enabled: true, mintTokens: true });
      expect(dev.http.corsOrigins).toEqual(['https://a.example', 'http://localhost:8123', 'http://127.0.0.1:8123']);

      const prod = toSettings(parseEnvironment({ NODE_ENV: 'production', JWT_SECRET: SECRET }));
      expect(prod.demo).toEqual({ enabled: false, mintTokens: false });
      const prodWithPage = toSettings(parseEnvironment({ NODE_ENV: 'production', JWT_SECRET: SECRET, DEMO_ENABLED: 'true' }));
      expect(prodWithPage.demo).toEqual({ enabled: true, mintTokens: false });
      expect(parseError({ DEMO_ENABLED: 'yes' })).toContain('DEMO_ENABLED');
    });

    it('keeps `*` as allowing any origin', () => {
      expect(toSettings(parseEnvironment({ CORS_ORIGINS: '*' })).http.corsOrigins).toBe('*');
    });

    it('derives the log format and the landing page from NODE_ENV unless set', () => {
      const production = toSettings(parseEnvironment({ NODE_ENV: 'production', JWT_SECRET: SECRET }));
      const development = toSettings(parseEnvironment({}));

      expect(production.logging).toEqual({ format: 'json', level: 'info' });
      expect(production.docs).toEqual({ apiDocs: true, landingPage: false });
      expect(development.logging).toEqual({ format: 'pretty', level: 'info' });
      expect(development.docs).toEqual({ apiDocs: true, landingPage: true });
      expect(
        toSettings(parseEnvironment({ NODE_ENV: 'production', JWT_SECRET: SECRET, LOG_FORMAT: 'pretty', LANDING_PAGE_ENABLED: 'true' })),
      ).toMatchObject({ logging: { format: 'pretty' }, docs: { landingPage: true } });
    });

    it('serves metrics on the HTTP port unless METRICS_PORT is set', () => {
      expect(toSettings(parseEnvironment({})).metrics).toEqual({ enabled: true, port: undefined });
      expect(toSettings(parseEnvironment({ METRICS_PORT: '9464', METRICS_ENABLED: 'false' })).metrics).toEqual({
        enabled: false,
        port: 9464,
      });
    });

    it('refuses unknown log formats and levels and non-boolean switches', () => {
      expect(parseError({ LOG_FORMAT: 'xml' })).toContain('LOG_FORMAT');
      expect(parseError({ LOG_LEVEL: 'verbose' })).toContain('LOG_LEVEL');
      expect(parseError({ METRICS_ENABLED: 'yes' })).toContain('METRICS_ENABLED');
      expect(parseError({ METRICS_PORT: '70000' })).toContain('METRICS_PORT');
    });

    it('reads every switch alike: true/false in any case, or 1/0', () => {
      const on = toSettings(parseEnvironment({ METRICS_ENABLED: 'TRUE', API_DOCS_ENABLED: '1', WS_PERMESSAGE_DEFLATE: 'True', JWT_REQUIRE_EXP: 'true' }));
      expect([on.metrics.enabled, on.docs.apiDocs, on.ws.deflate.enabled, on.jwt.requireExp]).toEqual([true, true, true, true]);
      const off = toSettings(parseEnvironment({ METRICS_ENABLED: 'False', API_DOCS_ENABLED: '0', WS_PERMESSAGE_DEFLATE: 'false', JWT_REQUIRE_EXP: 'FALSE' }));
      expect([off.metrics.enabled, off.docs.apiDocs, off.ws.deflate.enabled, off.jwt.requireExp]).toEqual([false, false, false, false]);
      // The two that may be left empty (decided by NODE_ENV) too.
      const production = { NODE_ENV: 'production', JWT_SECRET: SECRET };
      const shown = toSettings(parseEnvironment({ ...production, LANDING_PAGE_ENABLED: '1', DEMO_ENABLED: 'TRUE' }));
      expect([shown.docs.landingPage, shown.demo.enabled]).toEqual([true, true]);
      const hidden = toSettings(parseEnvironment({ NODE_ENV: 'development', LANDING_PAGE_ENABLED: 'False', DEMO_ENABLED: '0' }));
      expect([hidden.docs.landingPage, hidden.demo.enabled]).toEqual([false, false]);
    });

    it('refuses Redis settings that name no one way to Redis: a port out of range, a master name alone, REDIS_URL beside a cluster or sentinels', () => {
      expect(parseError({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:99999' })).toContain('REDIS_CLUSTER_NODES: "127.0.0.1:99999" has no port');
      expect(parseError({ REDIS_CLUSTER_NODES: '127.0.0.1:0' })).toContain('REDIS_CLUSTER_NODES');
      expect(parseError({ REDIS_SENTINELS: '127.0.0.1:99999', REDIS_SENTINEL_MASTER: 'chat' })).toContain('REDIS_SENTINELS');
      expect(parseError({ REDIS_SENTINEL_MASTER: 'chat' })).toContain('REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS');
      expect(parseError({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:7000' })).toContain('REDIS_URL and REDIS_CLUSTER_NODES');
      expect(parseError({ REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_MASTER: 'chat' })).toContain('REDIS_URL and REDIS_SENTINELS');
    });

    it('takes Redis credentials for a cluster or Sentinel, never beside REDIS_URL, and never shows a password', () => {
      const settings = toSettings(parseEnvironment({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_USERNAME: 'chat', REDIS_PASSWORD: 'pw-123' }));
      expect(settings.redis.auth).toEqual({ username: 'chat', password: 'pw-123' });
      const sentinel = toSettings(parseEnvironment({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_MASTER: 'chat', REDIS_SENTINEL_PASSWORD: 'spw-123' }));
      expect(sentinel.redis.sentinel?.password).toBe('spw-123');
      expect(parseError({ REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'pw-123' })).toContain('put them in the URL');
      expect(parseError({ REDIS_SENTINEL_PASSWORD: 'spw-123' })).toContain('REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS');
      expect(parseError({ REDIS_PASSWORD: 'x'.repeat(600) })).not.toContain('xxx');
    });

    it('takes TLS for a cluster or Sentinel (REDIS_TLS) or from a rediss:// URL, with a CA file it can read', () => {
      const dir = mkdtempSync(join(tmpdir(), 'chat-ca-'));
      const ca = join(dir, 'ca.pem');
      writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      writeFileSync(join(dir, 'not.pem'), 'hello');
      try {
        expect(toSettings(parseEnvironment({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: ca })).redis.tls).toEqual({
          ca: readFileSync(ca, 'utf8'),
        });
        expect(toSettings(parseEnvironment({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_MASTER: 'chat', REDIS_TLS: '1' })).redis.tls).toEqual({ ca: undefined });
        expect(toSettings(parseEnvironment({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA_FILE: ca })).redis.tls).toEqual({ ca: readFileSync(ca, 'utf8') });
        expect(toSettings(parseEnvironment({ REDIS_URL: 'redis://r:6379' })).redis.tls).toBeUndefined();
        expect(parseError({ REDIS_URL: 'redis://r:6379', REDIS_TLS: 'true' })).toContain('with REDIS_URL, write rediss://');
        expect(parseError({ REDIS_TLS: 'yes' })).toContain('REDIS_TLS');
        expect(parseError({ REDIS_URL: 'redis://r:6379', REDIS_TLS_CA_FILE: ca })).toContain('REDIS_TLS_CA_FILE is set without TLS');
        expect(parseError({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'none.pem') })).toContain('cannot be read (ENOENT)');
        expect(parseError({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'not.pem') })).toContain('holds no PEM certificate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('turns a Redis URL into the settings and an empty one into none', () => {
      expect(toSettings(parseEnvironment({ REDIS_URL: 'redis://localhost:6379/0' })).redis.url).toBe('redis://localhost:6379/0');
      expect(toSettings(parseEnvironment({ REDIS_URL: '' })).redis.url).toBeUndefined();
    });

    it('finds Redis through the sentinels when REDIS_SENTINELS is set, with the master named', () => {
      const redis = toSettings(parseEnvironment({ REDIS_SENTINELS: 's1:26379, 10.0.0.2:26380', REDIS_SENTINEL_MASTER: 'chat' })).redis;

      expect(redis).toMatchObject({
        enabled: true,
        sentinel: { masterName: 'chat', sentinels: [{ host: 's1', port: 26379 }, { host: '10.0.0.2', port: 26380 }] },
        wait: { replicas: 0, timeoutMs: 500 },
      });
      expect(toSettings(parseEnvironment({})).redis).toMatchObject({ enabled: false, sentinel: undefined });
      expect(parseError({ REDIS_SENTINELS: 's1:26379' })).toContain('REDIS_SENTINEL_MASTER must name the master');
      expect(parseError({ REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'chat' })).toContain('REDIS_SENTINELS="s1"');
    });

    it('keeps the WAIT for replicas below the command timeout', () => {
      expect(parseError({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '2000' })).toContain('REDIS_WAIT_TIMEOUT_MS must be below');
      expect(toSettings(parseEnvironment({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '800' })).redis.wait).toEqual({
        replicas: 1,
        timeoutMs: 800,
      });
    });

    it('turns cluster seeds into the settings, and refuses a seed without a port', () => {
      const redis = toSettings(parseEnvironment({ REDIS_CLUSTER_NODES: 'a:7000, 10.0.0.2:7001' })).redis;
      expect(redis).toMatchObject({ enabled: true, clusterNodes: [{ host: 'a', port: 7000 }, { host: '10.0.0.2', port: 7001 }] });
      expect(toSettings(parseEnvironment({})).redis).toMatchObject({ enabled: false, clusterNodes: [] });
      expect(parseError({ REDIS_CLUSTER_NODES: 'a:7000,b' })).toContain('REDIS_CLUSTER_NODES');
    });

    it('refuses a cluster together with Sentinel, and takes one with WAIT for replicas (each master’s own)', () => {
      expect(parseError({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'chat' })).toContain(
        'REDIS_CLUSTER_NODES and REDIS_SENTINELS cannot both be set',
      );
      expect(parseEnvironment({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_WAIT_REPLICAS: '1' }).REDIS_WAIT_REPLICAS).toBe(1);
    });
  });
});
