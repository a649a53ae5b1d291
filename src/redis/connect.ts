import { Redis } from 'ioredis';
import type { Settings } from '../config/settings.js';

/** What `connect` opened for the configured mode. */
export interface RedisConnections {
  /** Commands and scripts. */
  client: Redis;
  /** Room subscriptions. */
  subscriber: Redis;
}

/**
 * Opens the connections of the configured mode: `REDIS_SENTINELS` (the
 * master the sentinels name) or `REDIS_URL` (one server); undefined when
 * neither is set. Commands never wait in an offline queue: while Redis is
 * away they fail at once, and callers answer `unavailable`.
 *
 * Through Sentinel a failover is noticed three ways: the master's
 * connection drops (ioredis asks the sentinels again and checks the role of
 * what it finds), a sentinel announces `+switch-master` (`failoverDetector`,
 * for a master that hangs or is demoted without closing), or a write answers
 * `READONLY` (a master just turned into a replica).
 */
export function connect(redis: Settings['redis'], instanceId: string): RedisConnections | undefined {
  const { url, sentinel, commandTimeoutMs, connectTimeoutMs, reconnect } = redis;
  // The exponent is capped only to keep the number finite; the maximum wait caps the delay.
  const backoff = (attempt: number) => Math.min(reconnect.baseMs * 2 ** Math.min(attempt, 20), reconnect.maxMs);
  const options = {
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    autoResubscribe: false,
  };
  let client: Redis;
  if (sentinel) {
    client = new Redis({
      ...options,
      enableOfflineQueue: false,
      retryStrategy: backoff,
      sentinels: sentinel.sentinels,
      name: sentinel.masterName,
      sentinelRetryStrategy: backoff,
      failoverDetector: true,
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      connectionName: `chat:${instanceId}:commands`,
    });
  } else if (url) {
    client = new Redis(url, { ...options, enableOfflineQueue: false, retryStrategy: backoff, connectionName: `chat:${instanceId}:commands` });
  } else {
    return undefined;
  }
  const subscriber = client.duplicate({ connectionName: `chat:${instanceId}:subscriber` });
  return { client, subscriber };
}
