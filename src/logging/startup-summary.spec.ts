import { parseEnvironment } from '../config/environment.js';
import { toSettings } from '../config/settings.js';
import { startupSummary } from './startup-summary.js';

describe(startupSummary.name, () => {
  it('names the mode, the address, the origins, metrics and documents', () => {
    const settings = toSettings(parseEnvironment({ CORS_ORIGINS: 'https://a.example,https://b.example', DEMO_ENABLED: 'false' }));

    expect(startupSummary(settings, 'http://0.0.0.0:8000', 'http://0.0.0.0:8000/metrics')).toEqual({
      mode: 'memory',
      address: 'http://0.0.0.0:8000',
      origins: 'https://a.example,https://b.example',
      metrics: 'http://0.0.0.0:8000/metrics',
      api_docs: 'http://0.0.0.0:8000/api/docs',
      env: 'development',
      redis: undefined,
      key_prefix: undefined,
    });
  });

  it('shows the Redis URL without its password', () => {
    const settings = toSettings(parseEnvironment({ REDIS_URL: 'redis://chat:hunter2@redis:6379/2', REDIS_KEY_PREFIX: 'staging:' }));

    const summary = startupSummary(settings, 'http://0.0.0.0:8000', undefined);

    expect(summary).toMatchObject({ mode: 'redis', redis: 'redis://chat:***@redis:6379/2', key_prefix: 'staging:' });
    expect(JSON.stringify(summary)).not.toContain('hunter2');
  });
});
