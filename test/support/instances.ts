import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { waitFor } from '../../scripts/processes.mjs';
import { createApp } from '../../src/app.factory.js';
import type { Environment } from '../../src/config/environment.js';
import { logs, reportUnexpectedErrors } from './logs.js';
import { sharedCluster } from './redis-cluster.js';
import { redisUrl, uniquePrefix } from './redis.js';
import { createRoom } from './rest.js';
import { TEST_SECRET, token } from './tokens.js';
import { TestClient } from './ws-client.js';

/** One running application, in this process. */
export interface Instance {
  app: INestApplication;
  port: number;
  /** `http://127.0.0.1:<port>` */
  http: string;
  /** `ws://127.0.0.1:<port>/api/v1/chats/ws` */
  ws: string;
  close(): Promise<void>;
}

/** Starts the real application on `port` (default a free one), configured by `env`; what it logs goes to `logs`. */
export async function startInstance(env: Environment = {}, port = 0): Promise<Instance> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, ...env }, logs);
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    app,
    port: address.port,
    http: `http://127.0.0.1:${address.port}`,
    ws: `ws://127.0.0.1:${address.port}/api/v1/chats/ws`,
    close: () => app.close(),
  };
}

/**
 * `embedded`: everything in one process's memory; `redis`: instances sharing
 * one Redis; `cluster`: instances sharing a Redis Cluster of the test file's
 * own (3 masters, 1 replica each, started once per file).
 */
export type Mode = 'embedded' | 'redis' | 'cluster';
export const MODES: Mode[] = ['embedded', 'redis', 'cluster'];

/** Rate limits out of the way, for tests that send quickly on purpose. */
export const UNTHROTTLED: Environment = { RATE_LIMIT_PER_SECOND: 10_000, RATE_LIMIT_BURST: 100_000, RATE_LIMIT_BYTES_PER_SECOND: 1 << 30 };

/** A Redis URL and a key prefix of its own: instances started with the same env share one history. */
export async function redisEnv(): Promise<Environment> {
  return { REDIS_URL: await redisUrl(), REDIS_KEY_PREFIX: uniquePrefix() };
}

export interface InstancesOptions {
  /** Default `embedded`. */
  mode?: Mode;
  /** How many instances share the Redis (default 2); embedded is always one, instances cannot share memory. */
  count?: number;
  /** Settings of every instance; on Redis, `REDIS_URL` and `REDIS_KEY_PREFIX` default to the tests' Redis and a fresh prefix. */
  env?: Environment | (() => Promise<Environment>);
}

export interface Instances {
  readonly all: Instance[];
  readonly first: Instance;
  /** Another instance than `first` on Redis; the same one when embedded. */
  readonly last: Instance;
  /** The first instance's URLs. */
  readonly http: string;
  readonly ws: string;
  /** Set on Redis only. */
  readonly redisUrl: string;
  /** Set on a cluster only: its seeds (`REDIS_CLUSTER_NODES`). */
  readonly clusterNodes: string;
  readonly prefix: string;
  /** A client of `user` on instance `on` (an index or the instance; default the first), closed after the current test. */
  connect(user: string, on?: number | Instance): Promise<TestClient>;
  /** Creates a room over REST on the first instance and returns its id. */
  room(owner: string, members: string[], roomType?: string): Promise<string>;
}

/** The instances of one mode for the enclosing `describe`: started before its tests, closed after them. */
export function useInstances(options: InstancesOptions = {}): Instances {
  const mode = options.mode ?? 'embedded';
  reportUnexpectedErrors();
  const all: Instance[] = [];
  const clients: TestClient[] = [];
  const redis = { url: '', prefix: '', clusterNodes: '' };
  const started = (): Instance[] => {
    if (all.length === 0) throw new Error('The instances are not started yet');
    return all;
  };
  beforeAll(async () => {
    let env = typeof options.env === 'function' ? await options.env() : (options.env ?? {});
    if (mode === 'redis') {
      redis.url = typeof env.REDIS_URL === 'string' ? env.REDIS_URL : await redisUrl();
      redis.prefix = typeof env.REDIS_KEY_PREFIX === 'string' ? env.REDIS_KEY_PREFIX : uniquePrefix();
      env = { ...env, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix };
    }
    if (mode === 'cluster') {
      redis.clusterNodes = (await sharedCluster.get()).seeds;
      redis.prefix = typeof env.REDIS_KEY_PREFIX === 'string' ? env.REDIS_KEY_PREFIX : uniquePrefix();
      env = { ...env, REDIS_URL: '', REDIS_CLUSTER_NODES: redis.clusterNodes, REDIS_KEY_PREFIX: redis.prefix };
    }
    const count = mode === 'embedded' ? 1 : (options.count ?? 2);
    all.push(...(await Promise.all(Array.from({ length: count }, () => startInstance(env)))));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await Promise.all(all.splice(0).map((instance) => instance.close()));
  });
  return {
    all,
    get first() {
      return started()[0];
    },
    get last() {
      return started()[all.length - 1];
    },
    get http() {
      return started()[0].http;
    },
    get ws() {
      return started()[0].ws;
    },
    get redisUrl() {
      return redis.url;
    },
    get prefix() {
      return redis.prefix;
    },
    get clusterNodes() {
      return redis.clusterNodes;
    },
    async connect(user, on = 0) {
      const instance = typeof on === 'number' ? started()[on] : on;
      const client = await TestClient.connect(instance.ws, token(user));
      clients.push(client);
      return client;
    },
    room: (owner, members, roomType) => createRoom(started()[0].http, owner, members, roomType),
  };
}

export interface Readiness {
  status: number;
  body: { message?: string; status?: string };
}

export async function readiness(http: string): Promise<Readiness> {
  const response = await request(http).get('/health/ready').timeout(2000);
  return { status: response.status, body: response.body as Readiness['body'] };
}

/** Waits until `/health/ready` answers `status` (200 or 503) and returns that answer. */
export function waitReadiness(http: string, status: 200 | 503, timeoutMs = 10_000): Promise<Readiness> {
  return waitFor(
    async () => {
      const answer = await readiness(http);
      return answer.status === status ? answer : undefined;
    },
    timeoutMs,
    `${http}/health/ready answering ${status}`,
  );
}
