import type { RedisService } from '../../src/redis/redis.service.js';
import { waitFor } from '../../scripts/processes.mjs';
import { LinkProxy, redisService, redisUrl, uniquePrefix } from '../support/redis.js';

/**
 * Instances of one Redis-backed deployment for contract tests: each has its
 * own `RedisService` on a key prefix of the deployment's own, reaching the
 * tests' Redis through a link that `cutOff()` severs for all of them.
 */
export class RedisDeployment {
  readonly prefix = uniquePrefix();
  private readonly instances: RedisService[] = [];
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private severed = false;

  private constructor(private readonly link: LinkProxy) {}

  static async start(): Promise<RedisDeployment> {
    return new RedisDeployment(await LinkProxy.start(await redisUrl()));
  }

  /** The `RedisService` of a new instance. */
  async instance(): Promise<RedisService> {
    const redis = await redisService(this.prefix, this.link.url);
    this.instances.push(redis);
    return redis;
  }

  /** Runs `cleanup` on `close()`, before the instances' connections go. */
  onClose(cleanup: () => void | Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Severs every instance's link to Redis and waits until each of them has noticed. */
  async cutOff(): Promise<void> {
    this.link.cut();
    this.severed = true;
    await waitFor(() => this.instances.every((redis) => redis.notReadyReason !== undefined), 5000, 'every instance cut off from Redis');
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
    // Reconnected first: a connection shut down while it is reconnecting leaves a connect timer running.
    if (this.severed) {
      this.link.heal();
      await waitFor(() => this.instances.every((redis) => redis.notReadyReason === undefined), 5000, 'every instance back on Redis');
    }
    await Promise.all(this.instances.splice(0).map((redis) => redis.onApplicationShutdown()));
    await this.link.close();
  }
}
