import { connect, type Socket } from 'node:net';
import { freePort } from '../scripts/processes.mjs';
import { handshake } from './support/handshake.js';
import { waitReadiness } from './support/instances.js';
import { ensureBuilt, spawnInstance } from './support/spawned.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe('SIGTERM', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('closes every socket with 1012 and exits 0, refusing upgrades meanwhile', async () => {
    const instance = await spawnInstance({ SHUTDOWN_GRACE_MS: 2000, DRAIN_DURATION_MS: 500 });
    const exited = new Promise<number | null>((resolve) => instance.child.once('exit', (code) => resolve(code)));
    try {
      const clients = await Promise.all(['alice', 'bob'].map((user) => TestClient.connect(instance.ws, token(user))));
      clients[0].socket.pause();
      const started = Date.now();
      instance.child.kill('SIGTERM');
      expect(await clients[1].closed).toMatchObject({ code: 1012 });
      expect(await handshake(`${instance.ws}?token=${token('carol')}`, {})).toMatchObject({
        status: 503,
        body: { error: 'unavailable' },
      });
      clients[0].socket.resume();
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await instance.kill();
    }
  }, 30_000);

  it('ends at once on a second signal during the drain, by that signal (the orchestrator sees the drain was cut short)', async () => {
    const instance = await spawnInstance({ SHUTDOWN_GRACE_MS: 3000, DRAIN_DURATION_MS: 10_000 });
    const exited = new Promise<[number | null, string | null]>((resolve) => instance.child.once('exit', (code, signal) => resolve([code, signal])));
    try {
      // More sockets than one batch, so the drain is still closing them when the second signal comes.
      const clients = await Promise.all(Array.from({ length: 25 }, (_, i) => TestClient.connect(instance.ws, token(`user-${i}`))));
      const started = Date.now();
      instance.child.kill('SIGTERM');
      await waitReadiness(instance.http, 503);
      instance.child.kill('SIGTERM');
      expect(await exited).toEqual([null, 'SIGTERM']);
      expect(Date.now() - started).toBeLessThan(5000);
      await Promise.all(clients.map((client) => client.closed));
    } finally {
      await instance.kill();
    }
  }, 30_000);

  it('turns not ready first, then closes the sockets in batches spread over DRAIN_DURATION_MS', async () => {
    const drainMs = 2000;
    const graceMs = 1000;
    const instance = await spawnInstance({ DRAIN_DURATION_MS: drainMs, SHUTDOWN_GRACE_MS: graceMs });
    const exited = new Promise<number | null>((resolve) => instance.child.once('exit', (code) => resolve(code)));
    try {
      // 40 sockets over 2 s: 4 batches of 10 (the smallest batch), 500 ms apart.
      const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
      const clients = await Promise.all(users.map((user) => TestClient.connect(instance.ws, token(user))));
      const closedAt: number[] = [];
      const closes = clients.map((client) => client.closed.then((close) => (closedAt.push(Date.now()), close)));
      const started = Date.now();
      instance.child.kill('SIGTERM');

      // Not ready while most sockets are still open.
      expect(await waitReadiness(instance.http, 503, 1000)).toMatchObject({ body: { message: 'draining' } });
      expect(closedAt.length).toBeLessThan(clients.length / 2);

      for (const close of await Promise.all(closes)) expect(close).toMatchObject({ code: 1012, reason: 'server_restarting' });
      expect(await exited).toBe(0);
      const elapsed = Date.now() - started;

      // Spread over the window: the last close comes most of a window after the first,
      // and no more than a batch closes in the same instant.
      const offsets = closedAt.map((at) => at - started).sort((a, b) => a - b);
      expect(offsets.at(-1)! - offsets[0]).toBeGreaterThan(drainMs * 0.6);
      const sameInstant = Math.max(...offsets.map((t) => offsets.filter((u) => Math.abs(u - t) < 50).length));
      expect(sameInstant).toBeLessThanOrEqual(10);
      expect(elapsed).toBeLessThan(drainMs + graceMs + 2000);
    } finally {
      await instance.kill();
    }
  }, 30_000);

  it('does not wait for HTTP connections that are idle or halfway through a request', async () => {
    // Node's server.close() waits for a connection whose request has begun until HTTP_HEADERS_TIMEOUT_MS
    // (here 20 s), which would hold the exit past an orchestrator's grace period.
    const metricsPort = await freePort();
    const instance = await spawnInstance({
      SHUTDOWN_GRACE_MS: 1000,
      DRAIN_DURATION_MS: 500,
      HTTP_HEADERS_TIMEOUT_MS: 20_000,
      METRICS_PORT: metricsPort,
    });
    const exited = new Promise<number | null>((resolve) => instance.child.once('exit', (code) => resolve(code)));
    const sockets: Socket[] = [];
    try {
      const { port } = new URL(instance.http);
      const open = (request: string, to = Number(port)) =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(to, '127.0.0.1', () => resolve()).on('error', reject);
          socket.on('data', () => undefined);
          socket.write(request);
          sockets.push(socket);
        });
      // One kept alive after a whole request, one with half its headers, one with half its body.
      await open('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
      await open('GET /health/live HTTP/1.1\r\nHost: x\r\n');
      await open('POST /api/v1/chats/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":');
      // And a scrape with half its headers on the metrics server of its own.
      await open('GET /metrics HTTP/1.1\r\nHost: x\r\n', metricsPort);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      instance.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(500 + 1000 + 2000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await instance.kill();
    }
  }, 40_000);
});
