import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAnswers, waitFor } from '../../scripts/processes.mjs';
import { RedisService } from '../../src/redis/redis.service.js';
import { testSettings } from './settings.js';

/** One `redis-server --cluster-enabled yes` of a `RedisCluster`. */
export interface ClusterNode {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Whether the process runs (false after `kill`). */
  readonly running: boolean;
}

/**
 * A Redis Cluster of the test's own: `masters` masters with `replicasPerMaster`
 * replicas each, on free ports, state in a temporary directory, nothing
 * persisted. Start one per test file (`RedisCluster.start()` in `beforeAll`)
 * and `stop()` it in `afterAll`.
 */
export class RedisCluster {
  private readonly processes = new Map<number, ChildProcess>();

  private constructor(
    private readonly dir: string,
    readonly ports: number[],
  ) {}

  /** The seeds in the form `REDIS_CLUSTER_NODES` takes. */
  get seeds(): string {
    return this.ports.map((port) => `127.0.0.1:${port}`).join(',');
  }

  static async start(masters = 3, replicasPerMaster = 1): Promise<RedisCluster> {
    for (const tool of ['redis-server', 'redis-cli']) {
      if (spawnSync(tool, ['--version']).error) throw new Error(`${tool} is not installed (apt-get install redis-server redis-tools)`);
    }
    const ports: number[] = [];
    while (ports.length < masters * (1 + replicasPerMaster)) {
      const port = await freePort();
      // The cluster bus listens on port + 10000: both must be free and distinct from the others.
      if (port + 10_000 > 65_535 || ports.includes(port) || ports.includes(port + 10_000) || ports.includes(port - 10_000)) continue;
      ports.push(port);
    }
    const cluster = new RedisCluster(mkdtempSync(join(tmpdir(), 'chat-cluster-')), ports);
    try {
      await Promise.all(ports.map((port) => cluster.launch(port)));
      const create = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await cluster.waitConverged();
      await cluster.waitReplicasInSync();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  node(port: number): ClusterNode {
    const child = this.processes.get(port);
    // A process killed by a signal keeps exitCode null: signalCode says it ended.
    return { port, address: `127.0.0.1:${port}`, running: child !== undefined && child.exitCode === null && child.signalCode === null };
  }

  /** A plain connection to one node, closed by the caller. */
  connect(port: number): Redis {
    return new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: false });
  }

  /** Runs a command on one node. */
  async command(port: number, ...args: Array<string | number>): Promise<unknown> {
    const redis = this.connect(port);
    try {
      return await redis.call(String(args[0]), ...args.slice(1));
    } finally {
      redis.disconnect();
    }
  }

  /** Every node's view: `[port, role, master port or undefined, slots]` from a running node's `CLUSTER NODES`. */
  async topology(): Promise<Array<{ port: number; id: string; master: boolean; masterId: string | undefined; slots: string[]; failed: boolean }>> {
    const alive = this.ports.find((port) => this.node(port).running);
    if (alive === undefined) throw new Error('No cluster node runs');
    const text = (await this.command(alive, 'CLUSTER', 'NODES')) as string;
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
        return {
          id,
          port: Number(/:(\d+)@/.exec(address)?.[1]),
          master: flags.includes('master'),
          masterId: masterId === '-' ? undefined : masterId,
          slots,
          failed: flags.includes('fail'),
        };
      });
  }

  /** The port of the master serving `slot`. */
  async masterOf(slot: number): Promise<number> {
    const nodes = await this.topology();
    const owner = nodes.find(
      (node) =>
        node.master &&
        !node.failed &&
        node.slots.some((range) => {
          const [from, to] = range.split('-').map(Number);
          return slot >= from && slot <= (to ?? from);
        }),
    );
    if (!owner) throw new Error(`No master serves slot ${slot}`);
    return owner.port;
  }

  /** Promotes a replica of the master on `masterPort` with `CLUSTER FAILOVER` and waits until it serves; returns its port. */
  async failover(masterPort: number): Promise<number> {
    const replica = await this.replicaOf(masterPort);
    await this.command(replica, 'CLUSTER', 'FAILOVER');
    await waitFor(async () => (await this.topology()).find((node) => node.port === replica)?.master, 15_000, `replica ${replica} promoted`);
    await this.waitConverged();
    return replica;
  }

  /**
   * Kills the master on `masterPort` (SIGKILL) once its replica is in sync,
   * and waits until the cluster promotes that replica; `restart` brings the
   * old master back (as the new one's replica).
   */
  async killMaster(masterPort: number): Promise<{ promoted: number; restart: () => Promise<void> }> {
    // Only a replica in sync may take over.
    await this.waitReplicasInSync();
    const replica = await this.replicaOf(masterPort);
    await this.kill(masterPort);
    await waitFor(
      async () => (await this.topology()).find((node) => node.port === replica)?.master,
      30_000,
      `replica ${replica} promoted in place of ${masterPort}`,
    );
    return { promoted: replica, restart: () => this.restart(masterPort) };
  }

  /** The port of a replica of the master on `masterPort`. */
  async replicaOf(masterPort: number): Promise<number> {
    const nodes = await this.topology();
    const master = nodes.find((node) => node.port === masterPort);
    const replica = nodes.find((node) => node.masterId === master?.id);
    if (!replica) throw new Error(`The master on ${masterPort} has no replica`);
    return replica.port;
  }

  /**
   * Moves `slot` (and the keys in it) from its master to `toPort` as a
   * reshard does: IMPORTING/MIGRATING, MIGRATE in batches, then NODE once
   * on every master (the target first, then the source).
   */
  async migrateSlot(slot: number, toPort: number): Promise<void> {
    const fromPort = await this.masterOf(slot);
    if (fromPort === toPort) return;
    const nodes = await this.topology();
    const id = (port: number) => nodes.find((node) => node.port === port)!.id;
    await this.command(toPort, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', id(fromPort));
    await this.command(fromPort, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', id(toPort));
    for (;;) {
      const keys = (await this.command(fromPort, 'CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await this.command(fromPort, 'MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'REPLACE', 'KEYS', ...keys);
    }
    // Once per master, as a reshard does (a repeated one is its own test in cluster-faults).
    for (const port of new Set([toPort, fromPort, ...nodes.filter((node) => node.master && !node.failed).map((node) => node.port)])) {
      await this.command(port, 'CLUSTER', 'SETSLOT', slot, 'NODE', id(toPort));
    }
    await this.waitConverged();
  }

  /** Kills one node's process (a crash). */
  async kill(port: number): Promise<void> {
    const child = this.processes.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /**
   * Starts a killed node again with its cluster state: a master that was
   * failed over comes back as a replica of its successor. Resolves once it
   * is in sync and every node agrees.
   */
  async restart(port: number): Promise<void> {
    await this.launch(port);
    await waitFor(
      async () => ((await this.command(port, 'INFO', 'replication')) as string).includes('master_link_status:up'),
      30_000,
      `node ${port} back as a replica in sync`,
      100,
    );
    await this.waitConverged();
  }

  async stop(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Until every running replica's link to its master is up (a replica in sync can take over). */
  async waitReplicasInSync(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const replicas = (await this.topology()).filter((node) => !node.master && this.node(node.port).running);
        const links = await Promise.all(replicas.map((node) => this.command(node.port, 'INFO', 'replication')));
        return links.every((info) => String(info).includes('master_link_status:up'));
      },
      timeoutMs,
      'every replica in sync',
      100,
    );
  }

  /** Until every running node says the cluster is ok and agrees on who serves what. */
  async waitConverged(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const views = await Promise.all(
          this.ports
            .filter((port) => this.node(port).running)
            .map(async (port) => {
              const info = (await this.command(port, 'CLUSTER', 'INFO')) as string;
              if (!info.includes('cluster_state:ok')) return undefined;
              const nodes = ((await this.command(port, 'CLUSTER', 'NODES')) as string)
                .trim()
                .split('\n')
                .filter((line) => line.includes('master') && !line.includes('fail'))
                .map((line) => `${line.split(' ')[1].split('@')[0]} ${line.split(' ').slice(8).join(' ')}`)
                .sort()
                .join('\n');
              return nodes;
            }),
        );
        return views.every((view) => view !== undefined && view === views[0]);
      },
      timeoutMs,
      'the cluster converged',
      100,
    );
  }

  private async launch(port: number): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(this.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '2000',
        // A replica is synced at once, not after the default 5 s wait for more replicas: one not yet
        // synced when its master dies cannot take over.
        '--repl-diskless-sync-delay', '0',
        '--dir', this.dir,
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
      ],
      { stdio: 'ignore' },
    );
    this.processes.set(port, child);
    await waitFor(() => redisAnswers(port), 5000, `redis-server (cluster) on port ${port}`);
  }
}

/**
 * The test file's one cluster, shared by every `describe` of the file that
 * asks for it (`get()` in hooks): started on the first `get()`, stopped
 * after the file's last test. Jest gives each test file its own module
 * registry, so a file never sees another file's cluster. The stop is a hook
 * of the file itself, registered as this module loads: a `describe`'s own
 * `afterAll` does not run when a name filter (`-t`) skips its tests, and a
 * cluster left running would keep Jest from exiting.
 */
export const sharedCluster = (() => {
  let cluster: Promise<RedisCluster> | undefined;
  return {
    get(): Promise<RedisCluster> {
      cluster ??= RedisCluster.start();
      return cluster;
    },
    async stop(): Promise<void> {
      const stopping = cluster;
      cluster = undefined;
      await (await stopping)?.stop();
    },
  };
})();

afterAll(() => sharedCluster.stop());

/** The application's `RedisService` on its own on the file's cluster, with `prefix` (see `redisService`). */
export async function clusterRedisService(prefix: string): Promise<RedisService> {
  const cluster = await sharedCluster.get();
  const redis = new RedisService(testSettings({ REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, REDIS_KEY_PREFIX: prefix }));
  await redis.onModuleInit();
  return redis;
}
