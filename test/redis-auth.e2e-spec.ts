import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { readiness, startInstance, type Instance } from './support/instances.js';
import { makeCertificates, RedisServer, uniquePrefix, type TlsFiles } from './support/redis.js';
import { SentinelTopology } from './support/redis-sentinel.js';
import { twoInstancesChatting } from './support/two-instances.js';

const PASSWORD = 'cluster-password-0123';

/**
 * The describe's Redis: made by `start` before its tests, given a throwaway
 * certificate authority for the ones that speak TLS, and stopped after them,
 * once the instances the tests pushed onto `apps` are closed.
 */
function useRedis<T extends { stop(): Promise<void> }>(start: (tls: TlsFiles) => Promise<T>, timeoutMs?: number) {
  const apps: Instance[] = [];
  let dir: string | undefined;
  let tls: TlsFiles;
  let redis: T | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-tls-'));
    tls = makeCertificates(dir);
    redis = await start(tls);
  }, timeoutMs);
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    apps,
    get tls() {
      return tls;
    },
    get redis() {
      if (!redis) throw new Error('The Redis is not started yet');
      return redis;
    },
  };
}

/** A one-node Redis Cluster that asks for a password: what a production cluster with `requirepass` is to the service. */
describe('a Redis Cluster with a password (REDIS_PASSWORD)', () => {
  const setup = useRedis(() => RedisServer.start({ password: PASSWORD, cluster: true }));

  it('carries messages between two instances that give the password, and keeps one without it not ready', async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${setup.redis.port}`, REDIS_KEY_PREFIX: prefix };
    const { alice, bob } = await twoInstancesChatting({ ...env, REDIS_PASSWORD: PASSWORD }, 'behind a password', setup.apps);
    await Promise.all([alice.close(), bob.close()]);

    const without = await startInstance(env);
    setup.apps.push(without);
    expect(await readiness(without.http)).toMatchObject({ status: 503 });
  });
});

describe('a Redis Cluster over TLS (REDIS_TLS, REDIS_TLS_CA_FILE)', () => {
  const setup = useRedis((tls) => RedisServer.start({ tls, cluster: true }));

  it('carries messages between two instances that trust its certificate authority, and keeps one that does not not ready', async () => {
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${setup.redis.port}`, REDIS_KEY_PREFIX: uniquePrefix(), REDIS_TLS: 'true' };
    const trusting = { ...env, REDIS_TLS_CA_FILE: setup.tls.ca };
    const { alice, bob } = await twoInstancesChatting(trusting, 'over TLS', setup.apps);
    await Promise.all([alice.close(), bob.close()]);

    // The system's authorities do not know this one: the node's certificate is refused.
    const untrusting = await startInstance(env);
    setup.apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});

describe('Redis through Sentinel over TLS (REDIS_SENTINELS, REDIS_TLS, REDIS_TLS_CA_FILE)', () => {
  const setup = useRedis((tls) => SentinelTopology.start(undefined, tls), 60_000);

  it('carries messages between two instances that trust the certificate authority of the sentinels and the servers, and keeps one that does not not ready', async () => {
    const env = { ...setup.redis.env, REDIS_URL: '', REDIS_KEY_PREFIX: uniquePrefix(), REDIS_TLS: 'true' };
    const { alice, bob } = await twoInstancesChatting({ ...env, REDIS_TLS_CA_FILE: setup.tls.ca }, 'through sentinels over TLS', setup.apps);
    await Promise.all([alice.close(), bob.close()]);

    // The sentinels' certificate is refused, so no master is ever named.
    const untrusting = await startInstance(env);
    setup.apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});

describe('one Redis over TLS (a rediss:// REDIS_URL, REDIS_TLS_CA_FILE)', () => {
  const setup = useRedis((tls) => RedisServer.start({ tls }));

  it('carries messages between two instances that trust its certificate authority, and keeps one that does not not ready', async () => {
    const env = { REDIS_URL: `rediss://127.0.0.1:${setup.redis.port}`, REDIS_KEY_PREFIX: uniquePrefix() };
    const { alice, bob } = await twoInstancesChatting({ ...env, REDIS_TLS_CA_FILE: setup.tls.ca }, 'over rediss://', setup.apps);
    await Promise.all([alice.close(), bob.close()]);

    // Without REDIS_TLS_CA_FILE the system's authorities are trusted, and they do not know this one.
    const untrusting = await startInstance(env);
    setup.apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});
