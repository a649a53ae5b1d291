import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from '../../scripts/processes.mjs';
import { RedisService } from '../../src/redis/redis.service.js';
import { testSettings } from './settings.js';

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** A key prefix of its own for each suite, so runs never see each other's rooms. */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

let shared: Promise<string> | undefined;

/**
 * The Redis the tests use: `REDIS_URL` (default 127.0.0.1:6379) if it
 * answers, else a throwaway `redis-server` if one is installed; otherwise
 * the suite fails with what to install.
 */
export function redisUrl(): Promise<string> {
  shared ??= (async () => {
    const url = process.env.REDIS_URL || DEFAULT_URL;
    if (await answers(url)) return url;
    const server = await RedisServer.start();
    return server.url;
  })();
  return shared;
}

/**
 * The application's `RedisService` on its own, for tests of the stores and
 * the bus without an app: connected to `url` (default the tests' Redis) with `prefix`.
 */
export async function redisService(prefix: string, url?: string): Promise<RedisService> {
  const redis = new RedisService(testSettings({ REDIS_URL: url ?? (await redisUrl()), REDIS_KEY_PREFIX: prefix }));
  await redis.onModuleInit();
  return redis;
}

/** The Redis client id of the subscriber connection of the instance `instanceId` (from `CLIENT LIST`). */
export async function subscriberId(admin: Redis, instanceId: string): Promise<string> {
  const name = `chat:${instanceId}:subscriber`;
  const line = ((await admin.client('LIST')) as string).split('\n').find((entry) => entry.includes(` name=${name} `));
  const id = line && /\bid=(\d+)/.exec(line)?.[1];
  if (!id) throw new Error(`No connection named ${name} in CLIENT LIST`);
  return id;
}

/** Kills the subscriber connection of the instance `instanceId` (`CLIENT KILL ID`); returns the id it had. */
export async function killSubscriber(admin: Redis, instanceId: string): Promise<string> {
  const id = await subscriberId(admin, instanceId);
  const killed = await admin.client('KILL', 'ID', id);
  if (killed !== 1) throw new Error(`CLIENT KILL ID ${id} killed ${String(killed)} connections`);
  return id;
}

/** How a `RedisServer` runs; by default plain TCP on a free port, no password, no cluster. */
export interface RedisServerOptions {
  port?: number;
  /** Asked of every client (`requirepass`). */
  password?: string;
  /** Speaks only TLS, with these files (`listenSettings`). */
  tls?: TlsFiles;
  /**
   * A one-node cluster with every slot on it, its address announced (a node
   * alone does not know it, and CLUSTER SLOTS would name none).
   */
  cluster?: boolean;
}

/**
 * A `redis-server` of the test's own, its state in a temporary directory and
 * nothing persisted, which the test may stop, restart (empty) and pause.
 */
export class RedisServer {
  private process: ChildProcess | undefined;
  private dir: string | undefined;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (spawnSync('redis-server', ['--version']).error) {
      throw new Error('No Redis answers at REDIS_URL and redis-server is not installed: install redis-server (apt-get install redis-server)');
    }
    const server = new RedisServer(options.port ?? (await freePort()), options);
    await server.restart();
    return server;
  }

  /** Starts the server again, empty, as nothing is persisted (stopping it first if it runs). */
  async restart(): Promise<void> {
    await this.stop();
    const { password, tls, cluster = false } = this.options;
    const dir = mkdtempSync(join(tmpdir(), 'chat-redis-'));
    this.dir = dir;
    const clustered = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1'];
    this.process = spawn(
      'redis-server',
      [
        ...asArgs(listenSettings(this.port, tls)),
        '--bind', '127.0.0.1',
        ...(cluster ? clustered : []),
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
        ...(password === undefined ? [] : ['--requirepass', password]),
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitFor(() => this.command('PING'), 5000, `redis-server on port ${this.port}`);
      if (cluster) {
        await this.command('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
        await waitFor(async () => String(await this.command('CLUSTER', 'INFO')).includes('cluster_state:ok'), 10_000, 'the one-node cluster up');
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Runs one command on a connection of its own (with the password, over TLS). */
  async command(...args: Array<string | number>): Promise<unknown> {
    const { password, tls } = this.options;
    const redis = new Redis({
      host: '127.0.0.1',
      port: this.port,
      password,
      tls: clientTls(tls),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await redis.call(String(args[0]), ...args.slice(1));
    } finally {
      // A connection that failed has ended: disconnecting it again would leave a timer
      // (ioredis disconnectTimeout, 2 s) that keeps Jest from exiting.
      if (redis.status !== 'end') redis.disconnect();
    }
  }

  /** Freezes the server (SIGSTOP): its sockets stay open and nothing answers, as with a stalled Redis. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    const child = this.process;
    this.process = undefined;
    // A process killed by a signal keeps exitCode null: signalCode says it ended.
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Forwards a local port to Redis; `cut()` severs every link and refuses new ones until `heal()`. */
export class LinkProxy {
  private readonly sockets = new Set<Socket>();
  private severed = false;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {
    server.on('connection', (inbound: Socket) => this.pipe(inbound));
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  static async start(target: string): Promise<LinkProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new LinkProxy(server, new URL(target));
  }

  cut(): void {
    this.severed = true;
    for (const socket of this.sockets) socket.destroy();
  }

  heal(): void {
    this.severed = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(inbound: Socket): void {
    if (this.severed) return void inbound.destroy();
    const outbound = connect(Number(this.target.port || 6379), this.target.hostname);
    for (const [socket, peer] of [
      [inbound, outbound],
      [outbound, inbound],
    ]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        peer.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  }
}

/** A certificate authority and a certificate it signed for 127.0.0.1, as PEM files. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Makes a throwaway certificate authority and a server certificate for 127.0.0.1 in `dir` (openssl). */
export function makeCertificates(dir: string): TlsFiles {
  const files = { ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
  const san = join(dir, 'san.cnf');
  writeFileSync(san, 'subjectAltName=IP:127.0.0.1\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const steps = [
    ['req', '-x509', ...ec, '-keyout', files.caKey, '-out', files.ca, '-days', '1', '-subj', '/CN=chat test CA'],
    ['req', ...ec, '-keyout', files.key, '-out', join(dir, 'server.csr'), '-subj', '/CN=127.0.0.1'],
    ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', files.ca, '-CAkey', files.caKey, '-CAcreateserial', '-out', files.cert, '-days', '1', '-extfile', san],
  ];
  for (const args of steps) {
    const run = spawnSync('openssl', args, { encoding: 'utf8' });
    if (run.error || run.status !== 0) throw new Error(`openssl ${args[0]} failed (install openssl): ${run.error?.message ?? run.stderr}`);
  }
  return { ca: files.ca, cert: files.cert, key: files.key };
}

/**
 * How a `redis-server` (data node, cluster node or sentinel) listens on
 * `port`: plain TCP, or with `tls` only TLS, showing `tls.cert` and asking
 * no certificate of its clients, and speaking TLS on the links it opens
 * itself too (a replica's to its master, the cluster bus, a sentinel's to
 * the servers and the other sentinels). As `[name, value]` settings:
 * `asArgs` makes command-line arguments of them, `asConfig` the lines of a
 * configuration file (a sentinel's).
 */
export function listenSettings(port: number, tls?: TlsFiles): Array<[string, string]> {
  if (!tls) return [['port', String(port)]];
  return [
    ['port', '0'],
    ['tls-port', String(port)],
    ['tls-cert-file', tls.cert],
    ['tls-key-file', tls.key],
    ['tls-ca-cert-file', tls.ca],
    ['tls-auth-clients', 'no'],
    ['tls-replication', 'yes'],
    ['tls-cluster', 'yes'],
  ];
}

/** `listenSettings` as `redis-server` arguments. */
export function asArgs(settings: Array<[string, string]>): string[] {
  return settings.flatMap(([name, value]) => [`--${name}`, value]);
}

/** `listenSettings` as lines of a configuration file. */
export function asConfig(settings: Array<[string, string]>): string[] {
  return settings.map(([name, value]) => `${name} ${value}`);
}

/** What an admin connection (ioredis `tls`) needs to trust a node started with `tls`; undefined: plain TCP. */
export function clientTls(tls?: TlsFiles): { ca: string } | undefined {
  return tls && { ca: readFileSync(tls.ca, 'utf8') };
}
