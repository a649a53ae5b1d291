import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { readiness, startInstance, type Instance } from './support/instances.js';
import { makeCertificates, startOneNode, type OneNode, type TlsFiles } from './support/redis-cluster.js';
import { uniquePrefix } from './support/redis.js';
import { SentinelTopology } from './support/redis-sentinel.js';
import { twoInstancesChatting } from './support/two-instances.js';

const PASSWORD = 'cluster-password-0123';

/** A one-node Redis Cluster that asks for a password: what a production cluster with `requirepass` is to the service. */
describe('a Redis Cluster with a password (REDIS_PASSWORD)', () => {
  let cluster: OneNode;
  let port: number;
  const apps: Instance[] = [];
  beforeAll(async () => {
    cluster = await startOneNode({ password: PASSWORD, cluster: true });
    port = cluster.port;
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await cluster.stop();
  });

  it('carries messages between two instances that give the password, and keeps one without it not ready', async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, REDIS_KEY_PREFIX: prefix };
    const { alice, bob } = await twoInstancesChatting({ ...env, REDIS_PASSWORD: PASSWORD }, 'behind a password', apps);
    await Promise.all([alice.close(), bob.close()]);

    const without = await startInstance(env);
    apps.push(without);
    expect(await readiness(without.http)).toMatchObject({ status: 503 });
  });
});

describe('a Redis Cluster over TLS (REDIS_TLS, REDIS_TLS_CA_FILE)', () => {
  let dir: string;
  let tls: TlsFiles;
  let cluster: OneNode;
  const apps: Instance[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-tls-'));
    tls = makeCertificates(dir);
    cluster = await startOneNode({ tls, cluster: true });
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries messages between two instances that trust its certificate authority, and keeps one that does not not ready', async () => {
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.port}`, REDIS_KEY_PREFIX: uniquePrefix(), REDIS_TLS: 'true' };
    const trusting = { ...env, REDIS_TLS_CA_FILE: tls.ca };
    const { alice, bob } = await twoInstancesChatting(trusting, 'over TLS', apps);
    await Promise.all([alice.close(), bob.close()]);

    // The system's authorities do not know this one: the node's certificate is refused.
    const untrusting = await startInstance(env);
    apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});

describe('Redis through Sentinel over TLS (REDIS_SENTINELS, REDIS_TLS, REDIS_TLS_CA_FILE)', () => {
  let dir: string;
  let tls: TlsFiles;
  let topology: SentinelTopology;
  const apps: Instance[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-tls-'));
    tls = makeCertificates(dir);
    topology = await SentinelTopology.start(undefined, tls);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await topology?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries messages between two instances that trust the certificate authority of the sentinels and the servers, and keeps one that does not not ready', async () => {
    const env = { ...topology.env, REDIS_URL: '', REDIS_KEY_PREFIX: uniquePrefix(), REDIS_TLS: 'true' };
    const { alice, bob } = await twoInstancesChatting({ ...env, REDIS_TLS_CA_FILE: tls.ca }, 'through sentinels over TLS', apps);
    await Promise.all([alice.close(), bob.close()]);

    // The sentinels' certificate is refused, so no master is ever named.
    const untrusting = await startInstance(env);
    apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});

describe('one Redis over TLS (a rediss:// REDIS_URL, REDIS_TLS_CA_FILE)', () => {
  let dir: string;
  let tls: TlsFiles;
  let server: OneNode;
  const apps: Instance[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-tls-'));
    tls = makeCertificates(dir);
    server = await startOneNode({ tls });
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries messages between two instances that trust its certificate authority, and keeps one that does not not ready', async () => {
    const env = { REDIS_URL: `rediss://127.0.0.1:${server.port}`, REDIS_KEY_PREFIX: uniquePrefix() };
    const { alice, bob } = await twoInstancesChatting({ ...env, REDIS_TLS_CA_FILE: tls.ca }, 'over rediss://', apps);
    await Promise.all([alice.close(), bob.close()]);

    // Without REDIS_TLS_CA_FILE the system's authorities are trusted, and they do not know this one.
    const untrusting = await startInstance(env);
    apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});
