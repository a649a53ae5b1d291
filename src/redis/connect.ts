import { Cluster, Redis } from 'ioredis';
import type { Settings } from '../config/settings.js';

/** A connection to the shared Redis: one server (found directly or through Sentinel), or a cluster. */
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
 * Opens the connections of the configured mode, first match wins:
 * `REDIS_CLUSTER_NODES` (a cluster), `REDIS_SENTINELS` (the master the
 * sentinels name) or `REDIS_URL` (one server); undefined when none is set.
 * (Configuration refuses a cluster together with Sentinel.) Commands never
 * wait in an offline queue: while Redis is away they fail at once, and
 * callers answer `unavailable`.
 *
 * Through Sentinel a failover is noticed three ways: the master's
 * connection drops (ioredis asks the sentinels again and checks the role of
 * what it finds), a sentinel announces `+switch-master` (`failoverDetector`,
 * for a master that hangs or is demoted without closing), or a write answers
 * `READONLY` (a master just turned into a replica).
 */
export function connect(redis: Settings['redis'], instanceId: string): RedisConnections | undefined {
  const { url, sentinel, clusterNodes, auth, tls, commandTimeoutMs, connectTimeoutMs, reconnect } = redis;
  // The exponent is capped only to keep the number finite; the maximum wait caps the delay.
  const backoff = (attempt: number) => Math.min(reconnect.baseMs * 2 ** Math.min(attempt, 20), reconnect.maxMs);
  const options = {
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    autoResubscribe: false,
    // A command cut off by a dropped connection has already been answered (an error): sent again on the
    // next connection, a message the sender was told is not stored would be stored after all, or twice.
    // ioredis drops such commands without settling them: `commandTimeout` is what answers their callers.
    autoResendUnfulfilledCommands: false,
    // No CLIENT SETINFO at each connect: Redis before 7.2 refuses it, which would count as a command error in
    // the metrics every time; the connection names (CLIENT SETNAME) say whose connections they are.
    disableClientInfo: true,
    // Each connection to a server (a cluster's node, the master Sentinel names, a rediss:// url's).
    ...(tls && { tls }),
  };
  if (clusterNodes.length > 0) {
    const cluster = new Cluster(clusterNodes, {
      enableOfflineQueue: false,
      shardedSubscribers: true,
      slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
      slotsRefreshTimeout: connectTimeoutMs,
      clusterRetryStrategy: backoff,
      // The classic subscriber (the main backend's channels) moves to another node by itself.
      redisOptions: { ...options, ...auth, autoResubscribe: true, connectionName: `chat:${instanceId}:cluster` },
    });
    return { client: cluster, subscriber: cluster, sharded: true };
  }
  const shared = { ...options, enableOfflineQueue: false, retryStrategy: backoff };
  let client: Redis;
  if (sentinel) {
    client = new Redis({
      ...shared,
      ...auth,
      sentinels: sentinel.sentinels,
      name: sentinel.masterName,
      sentinelPassword: sentinel.password,
      // REDIS_TLS covers the sentinels too, and the servers they name.
      ...(tls && { sentinelTLS: tls, enableTLSForSentinelMode: true }),
      sentinelRetryStrategy: backoff,
      failoverDetector: true,
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      connectionName: `chat:${instanceId}:commands`,
    });
  } else if (url) {
    client = new Redis(url, { ...shared, connectionName: `chat:${instanceId}:commands` });
  } else {
    return undefined;
  }
  const subscriber = client.duplicate({ connectionName: `chat:${instanceId}:subscriber` });
  return { client, subscriber, sharded: false };
}

/**
 * Quits a cluster client for good. ioredis re-arms its slot-refresh timer
 * from a refresh or a reconnect still in flight at `quit()`, and that timer
 * then re-arms itself (and keeps the process alive) forever. With no
 * interval and no refresh left to run, any round re-armed after the quit is
 * the last one.
 */
export async function quitCluster(cluster: Cluster): Promise<void> {
  cluster.options.slotsRefreshInterval = 0;
  cluster.refreshSlotsCache = () => undefined;
  await cluster.quit().catch(() => cluster.disconnect());
}
