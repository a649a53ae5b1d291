import { Cluster, Redis } from 'ioredis';
import type { Settings } from '../config/settings.js';

/** A connection to the shared Redis: one server, or a cluster. */
export type RedisClient = Redis | Cluster;

/** What `connect` opened for the configured mode. */
export interface RedisConnections {
  /** Commands and scripts. */
  client: RedisClient;
  /**
   * Room subscriptions. On a cluster this is the command client itself: its
   * sharded subscribers (one connection per master) follow the slot map that
   * the commands' MOVED answers refresh.
   */
  subscriber: RedisClient;
  /** Whether room events travel on sharded pub/sub (SPUBLISH/SSUBSCRIBE): a cluster. */
  sharded: boolean;
}

/** How often a cluster client re-reads the slot map even when no command was redirected. */
const CLUSTER_SLOTS_REFRESH_MS = 1_000;

/**
 * Opens the connections of the configured mode: `REDIS_CLUSTER_NODES`
 * (a cluster) or `REDIS_URL` (one server); undefined when neither is set.
 * Commands never wait in an offline queue: while Redis is away they fail
 * at once, and callers answer `unavailable`.
 */
export function connect(redis: Settings['redis'], instanceId: string): RedisConnections | undefined {
  const { url, clusterNodes, commandTimeoutMs, connectTimeoutMs, reconnect } = redis;
  // The exponent is capped only to keep the number finite; the maximum wait caps the delay.
  const backoff = (attempt: number) => Math.min(reconnect.baseMs * 2 ** Math.min(attempt, 20), reconnect.maxMs);
  const options = {
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    autoResubscribe: false,
  };
  if (clusterNodes.length > 0) {
    const cluster = new Cluster(clusterNodes, {
      enableOfflineQueue: false,
      shardedSubscribers: true,
      slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
      slotsRefreshTimeout: connectTimeoutMs,
      clusterRetryStrategy: backoff,
      // The classic subscriber (the main backend's channels) moves to another node by itself.
      redisOptions: { ...options, autoResubscribe: true, connectionName: `chat:${instanceId}:cluster` },
    });
    return { client: cluster, subscriber: cluster, sharded: true };
  }
  if (!url) return undefined;
  const shared = { ...options, enableOfflineQueue: false, retryStrategy: backoff };
  const client = new Redis(url, { ...shared, connectionName: `chat:${instanceId}:commands` });
  const subscriber = client.duplicate({ connectionName: `chat:${instanceId}:subscriber` });
  return { client, subscriber, sharded: false };
}
