import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { ask, join } from './support/client.js';
import { readiness, startInstance, waitReadiness, type Instance } from './support/instances.js';
import { makeCertificates, startOneNodeCluster, type OneNodeCluster, type TlsFiles } from './support/redis-cluster.js';
import { uniquePrefix } from './support/redis.js';
import { createRoom } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const PASSWORD = 'cluster-password-0123';

/** A one-node Redis Cluster that asks for a password: what a production cluster with `requirepass` is to the service. */
describe('a Redis Cluster with a password (REDIS_PASSWORD)', () => {
  let cluster: OneNodeCluster;
  let port: number;
  const apps: Instance[] = [];
  beforeAll(async () => {
    cluster = await startOneNodeCluster({ password: PASSWORD });
    port = cluster.port;
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await cluster.stop();
  });

  it('carries messages between two instances that give the password, and keeps one without it not ready', async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, REDIS_KEY_PREFIX: prefix };
    const [first, second] = await Promise.all([startInstance({ ...env, REDIS_PASSWORD: PASSWORD }), startInstance({ ...env, REDIS_PASSWORD: PASSWORD })]);
    apps.push(first, second);
    for (const app of [first, second]) expect(await waitReadiness(app.http, 200, 10_000)).toMatchObject({ status: 200 });
    const roomId = await createRoom(first.http, 'alice', ['bob']);
    const [alice, bob] = await Promise.all([TestClient.connect(first.ws, token('alice')), TestClient.connect(second.ws, token('bob'))]);
    await join(alice, roomId);
    await join(bob, roomId);
    expect(await ask(alice, { type: 'send_message', room_id: roomId, content: 'behind a password' })).toMatchObject({ type: 'message_ack' });
    expect(await bob.next('message')).toMatchObject({ message: { content: 'behind a password', seq: 1 } });
    await Promise.all([alice.close(), bob.close()]);

    const without = await startInstance(env);
    apps.push(without);
    expect(await readiness(without.http)).toMatchObject({ status: 503 });
  });
});

describe('a Redis Cluster over TLS (REDIS_TLS, REDIS_TLS_CA_FILE)', () => {
  let dir: string;
  let tls: TlsFiles;
  let cluster: OneNodeCluster;
  const apps: Instance[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-tls-'));
    tls = makeCertificates(dir);
    cluster = await startOneNodeCluster({ tls });
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries messages between two instances that trust its certificate authority, and keeps one that does not not ready', async () => {
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.port}`, REDIS_KEY_PREFIX: uniquePrefix(), REDIS_TLS: 'true' };
    const trusting = { ...env, REDIS_TLS_CA_FILE: tls.ca };
    const [first, second] = await Promise.all([startInstance(trusting), startInstance(trusting)]);
    apps.push(first, second);
    for (const app of [first, second]) expect(await waitReadiness(app.http, 200, 10_000)).toMatchObject({ status: 200 });
    const roomId = await createRoom(first.http, 'alice', ['bob']);
    const [alice, bob] = await Promise.all([TestClient.connect(first.ws, token('alice')), TestClient.connect(second.ws, token('bob'))]);
    await join(alice, roomId);
    await join(bob, roomId);
    expect(await ask(alice, { type: 'send_message', room_id: roomId, content: 'over TLS' })).toMatchObject({ type: 'message_ack' });
    expect(await bob.next('message')).toMatchObject({ message: { content: 'over TLS', seq: 1 } });
    await Promise.all([alice.close(), bob.close()]);

    // The system's authorities do not know this one: the node's certificate is refused.
    const untrusting = await startInstance(env);
    apps.push(untrusting);
    expect(await readiness(untrusting.http)).toMatchObject({ status: 503 });
  });
});
