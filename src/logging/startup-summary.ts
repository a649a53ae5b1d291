import type { Settings } from '../config/settings.js';
import { displayUrl } from './redact.js';

/** The one start-up line: what runs, where, and against what. */
export function startupSummary(
  settings: Settings,
  address: string,
  metricsAddress: string | undefined,
): Record<string, unknown> {
  return {
    mode: settings.redis.clusterNodes.length > 0 ? 'redis-cluster' : settings.redis.url ? 'redis' : 'memory',
    address,
    redis:
      settings.redis.clusterNodes.length > 0
        ? settings.redis.clusterNodes.map(({ host, port }) => `${host}:${port}`).join(',')
        : settings.redis.url
          ? displayUrl(settings.redis.url)
          : undefined,
    key_prefix: settings.redis.enabled && settings.redis.keyPrefix ? settings.redis.keyPrefix : undefined,
    origins: settings.http.corsOrigins === '*' ? '*' : settings.http.corsOrigins.join(','),
    metrics: metricsAddress,
    api_docs: settings.docs.apiDocs ? `${address}/api/docs` : undefined,
    env: settings.env,
  };
}
