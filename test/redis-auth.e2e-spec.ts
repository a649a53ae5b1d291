import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from '../scripts/processes.mjs';
import { ask, join } from './support/client.js';
import { readiness, startInstance, waitReadiness, type Instance } from './support/instances.js';
import { uniquePrefix } from './support/redis.js';
import { createRoom } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const PASSWORD = 'cluster-password-0123';

/**
 * A one-node Redis Cluster (every slot on it) that asks for a password: what a production cluster with `requirepass`
 * is to the service. Its address is announced: a node alone does not know it, and CLUSTER SLOTS would name none.
 */
describe('a Redis Cluster with a password (REDIS_PASSWORD)', () => {
  let dir: string;
  let node: ChildProcess;
  let port: number;
  const apps: Instance[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-redis-auth-'));
    port = await freePort();
    node = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', joinPath(dir, 'nodes.conf'), '--dir', dir, '--save', '', '--appendonly', 'no', '--requirepass', PASSWORD, '--cluster-announce-ip', '127.0.0.1'],
      { stdio: 'ignore' },
    );
    const admin = new Redis({ port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    await waitFor(() => admin.connect().then(() => true, () => false), 5000, 'the password-protected node');
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitFor(async () => String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'), 10_000, 'the one-node cluster up');
    await admin.quit();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    node.kill('SIGKILL');
    await once(node, 'exit');
    rmSync(dir, { recursive: true, force: true });
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
