import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { freePort, redisAnswers, waitFor } from '../../scripts/processes.mjs';
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

/** A `redis-server` of the test's own, which the test may stop and restart. */
export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(port?: number): Promise<RedisServer> {
    if (spawnSync('redis-server', ['--version']).error) {
      throw new Error('No Redis answers at REDIS_URL and redis-server is not installed: install redis-server (apt-get install redis-server)');
    }
    const server = new RedisServer(port ?? (await freePort()));
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor(() => redisAnswers(this.port), 5000, `redis-server on port ${this.port}`);
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
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    this.process = undefined;
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
