import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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
    const deadline = Date.now() + 5000;
    while (!(await answers(this.url))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    this.process = undefined;
  }
}
