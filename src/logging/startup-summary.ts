import type { Settings } from '../config/settings.js';
import { displayUrl } from '../core/redact.js';

/** The one start-up line: what runs, where, and against what. */
export function startupSummary(
  settings: Settings,
  address: string,
  metricsAddress: string | undefined,
): Record<string, unknown> {
  return {
    mode: settings.redis.clusterNodes.length > 0 ? 'redis-cluster' : settings.redis.enabled ? 'redis' : 'memory',
    address,
    redis: redisTarget(settings.redis),
    key_prefix: settings.redis.enabled && settings.redis.keyPrefix ? settings.redis.keyPrefix : undefined,
    origins: settings.http.corsOrigins === '*' ? '*' : settings.http.corsOrigins.join(','),
    metrics: metricsAddress,
    api_docs: settings.docs.apiDocs ? `${address}/api/docs` : undefined,
    env: settings.env,
  };
}

function redisTarget({ url, sentinel, clusterNodes }: Settings['redis']): string | undefined {
  if (clusterNodes.length > 0) return clusterNodes.map(({ host, port }) => `${host}:${port}`).join(',');
  if (sentinel) return `sentinel:${sentinel.masterName}@${sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(',')}`;
  return url ? displayUrl(url) : undefined;
}
