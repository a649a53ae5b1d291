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
});
