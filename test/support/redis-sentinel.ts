import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAnswers, waitFor } from '../../scripts/processes.mjs';
import type { Environment } from '../../src/config/environment.js';
import { asArgs, asConfig, clientTls, listenSettings, type TlsFiles } from './redis.js';

const MASTER_NAME = 'chat';

/** One `redis-server` process (data node or sentinel) on a port of its own. */
class Node {
  private process: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly args: string[],
    /** What the node asks of its clients (`requirepass`), if anything. */
    private readonly password?: string,
    /** Its certificate's authority, when it speaks only TLS. */
    private readonly tls?: { ca: string },
  ) {}

  async start(): Promise<void> {
    this.process = spawn('redis-server', this.args, { stdio: 'ignore' });
    const plain = this.password === undefined && this.tls === undefined;
    const answers = () => (plain ? redisAnswers(this.port) : this.ask(async (redis) => (await redis.ping()) === 'PONG').catch(() => false));
    await waitFor(answers, 5000, `redis-server on port ${this.port}`);
  }

  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** A short-lived admin connection. */
  async ask<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(this.port, '127.0.0.1', { password: this.password, tls: this.tls, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
    redis.on('error', () => undefined);
    try {
      return await work(redis);
    } finally {
      redis.disconnect();
    }
  }
}

type MasterState = { port: number; replicas: number; sentinels: number };

/** Passwords a topology's data nodes (`requirepass`, `masterauth`) and its sentinels ask for. */
export interface SentinelCredentials {
  password: string;
  sentinelPassword: string;
}

/**
 * A Sentinel deployment of the test's own on free ports: one master, one
 * replica and three sentinels (quorum 2) that fail over quickly, for tests
 * of instances that find the master through `REDIS_SENTINELS`. With `tls`,
 * every node (data node or sentinel) speaks only TLS, to its clients and to
 * the others (`listenSettings`).
 */
export class SentinelTopology {
  private constructor(
    private readonly dir: string,
    private readonly data: Map<number, Node>,
    private readonly sentinels: Node[],
  ) {}

  /**
   * With `credentials`, every node asks for a password, as a protected production deployment does;
   * with `tls` (`makeCertificates`), every node speaks only TLS.
   */
  static async start(credentials?: SentinelCredentials, tls?: TlsFiles): Promise<SentinelTopology> {
    if (spawnSync('redis-server', ['--version']).error) {
      throw new Error('The Sentinel tests start their own redis-server processes: install redis-server (apt-get install redis-server)');
    }
    const dir = mkdtempSync(join(tmpdir(), 'chat-sentinel-'));
    const [masterPort, replicaPort, ...sentinelPorts] = await distinctFreePorts(5);
    const auth = credentials ? ['--requirepass', credentials.password, '--masterauth', credentials.password] : [];
    const password = credentials?.password;
    const trust = clientTls(tls);
    const data = new Map<number, Node>([
      [masterPort, new Node(masterPort, [...dataArgs(masterPort, dir, tls), ...auth], password, trust)],
      [replicaPort, new Node(replicaPort, [...dataArgs(replicaPort, dir, tls), ...auth, '--replicaof', '127.0.0.1', String(masterPort)], password, trust)],
    ]);
    const sentinels = sentinelPorts.map((port) => {
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          ...asConfig(listenSettings(port, tls)),
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 3000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          // The data nodes' password, and the sentinels' own (asked of clients and of the other sentinels).
          ...(credentials
            ? [`sentinel auth-pass ${MASTER_NAME} ${credentials.password}`, `requirepass ${credentials.sentinelPassword}`, `sentinel sentinel-pass ${credentials.sentinelPassword}`]
            : []),
          '',
        ].join('\n'),
      );
      // Sentinel rewrites its configuration file, so each gets a writable one.
      return new Node(port, [conf, '--sentinel'], credentials?.sentinelPassword, trust);
    });
    const topology = new SentinelTopology(dir, data, sentinels);
    try {
      for (const node of data.values()) await node.start();
      await Promise.all(sentinels.map((node) => node.start()));
      await topology.settled(masterPort);
    } catch (error) {
      await topology.stop();
      throw error;
    }
    return topology;
  }

  /** The settings that make an instance find the master through these sentinels. */
  get env(): Environment {
    return {
      REDIS_SENTINELS: this.sentinels.map((node) => `127.0.0.1:${node.port}`).join(','),
      REDIS_SENTINEL_MASTER: MASTER_NAME,
    };
  }

  /** The port of the master, as the first sentinel names it. */
  async masterPort(): Promise<number> {
    const [, port] = (await this.sentinels[0].ask((redis) => redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME))) as [
      string,
      string,
    ];
    return Number(port);
  }

  /** An admin connection to the current master. */
  async onMaster<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    const port = await this.masterPort();
    return this.node(port).ask(work);
  }

  /**
   * `SENTINEL FAILOVER`: the replica is promoted while the master is still
   * up; resolves when every sentinel names the new master and it has its
   * replica (the old master) back.
   */
  async failover(): Promise<number> {
    const before = await this.masterPort();
    await this.sentinels[0].ask((redis) => redis.call('SENTINEL', 'FAILOVER', MASTER_NAME));
    const after = await waitFor(async () => {
      const port = await this.masterPort();
      return port !== before ? port : undefined;
    }, 20_000, 'a new master after SENTINEL FAILOVER');
    await this.settled(after);
    return after;
  }

  /**
   * Kills the master (SIGKILL) and waits until the sentinels promote the
   * replica; `restart` brings the old master back (the sentinels make it a
   * replica of the new one) and resolves once it is in sync.
   */
  async killMaster(): Promise<{ promoted: number; restart: () => Promise<void> }> {
    const before = await this.masterPort();
    const old = this.node(before);
    await old.kill();
    const promoted = await waitFor(async () => {
      const port = await this.masterPort();
      return port !== before ? port : undefined;
    }, 30_000, 'a new master after the master was killed');
    return {
      promoted,
      restart: async () => {
        await old.start();
        await this.settled(promoted);
      },
    };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.data.values()].map((node) => node.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private node(port: number): Node {
    const node = this.data.get(port);
    if (!node) throw new Error(`No data node on port ${port}`);
    return node;
  }

  /**
   * Until every sentinel names `masterPort` as master, sees one replica and
   * the two other sentinels, and the replica's link is up: only then can a
   * failover be agreed and a `WAIT 1` be answered.
   */
  private async settled(masterPort: number): Promise<void> {
    await waitFor(
      async () => {
        const states = await Promise.all(this.sentinels.map((node) => node.ask(masterState)));
        return states.every((state) => state.port === masterPort && state.replicas === 1 && state.sentinels === 2);
      },
      30_000,
      `the sentinels agreeing on master ${masterPort} with one replica`,
      100,
    );
    const replica = [...this.data.keys()].find((port) => port !== masterPort) as number;
    await waitFor(
      () => this.node(replica).ask(async (redis) => (await redis.info('replication')).includes('master_link_status:up')),
      30_000,
      `the replica on ${replica} in sync`,
      100,
    );
  }
}

async function masterState(redis: Redis): Promise<MasterState> {
  const flat = (await redis.call('SENTINEL', 'MASTER', MASTER_NAME)) as string[];
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
  const replicas = (await redis.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
  const healthy = replicas.filter((entry) => {
    const flags = entry[entry.indexOf('flags') + 1] ?? '';
    return !/s_down|o_down|disconnected/.test(flags);
  });
  return { port: Number(fields.get('port')), replicas: healthy.length, sentinels: Number(fields.get('num-other-sentinels')) };
}

/**
 * A master refuses writes while no replica is connected (`min-replicas-to-write 1`,
 * the setting the README asks of a Sentinel deployment): a master that lost
 * its replica to a promotion stops taking messages at once, before it knows it was replaced.
 */
function dataArgs(port: number, dir: string, tls?: TlsFiles): string[] {
  // A replica's full sync writes an RDB file into `dir` (and `dbfilename` keeps the two apart) even without `save`.
  return [
    ...asArgs(listenSettings(port, tls)),
    ...['--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `dump-${port}.rdb`],
    ...['--save', '', '--appendonly', 'no', '--min-replicas-to-write', '1', '--min-replicas-max-lag', '5'],
    // A replica that comes back is synced at once, not after the default 5 s wait for more replicas.
    ...['--repl-diskless-sync-delay', '0'],
  ];
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
