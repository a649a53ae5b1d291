import { startInstance, waitReadiness, type Instance } from './support/instances.js';
import { RedisServer, uniquePrefix } from './support/redis.js';

/**
 * A cluster that is down (`cluster_state:fail`) refuses commands while the
 * instance's connections to it stand: readiness says so, and comes back with the cluster.
 */
describe('readiness on a Redis Cluster that is down', () => {
  let cluster: RedisServer;
  let app: Instance | undefined;
  beforeAll(async () => {
    cluster = await RedisServer.start({ cluster: true });
  });
  afterAll(async () => {
    await app?.close();
    await cluster.stop();
  });

  it('answers 503 while a slot has no master, and 200 again once it has one', async () => {
    app = await startInstance({ REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.port}`, REDIS_KEY_PREFIX: uniquePrefix() });
    expect(await waitReadiness(app.http, 200)).toMatchObject({ status: 200 });

    await cluster.command('CLUSTER', 'DELSLOTS', '0');
    expect(await waitReadiness(app.http, 503)).toMatchObject({ status: 503, body: { message: 'redis cluster state is fail' } });

    await cluster.command('CLUSTER', 'ADDSLOTS', '0');
    expect(await waitReadiness(app.http, 200)).toMatchObject({ status: 200 });
  });
});
