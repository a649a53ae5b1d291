import { handshake } from './support/handshake.js';
import { ensureBuilt, spawnInstance } from './support/spawned.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe('SIGTERM', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('closes every socket with 1012 and exits 0, refusing upgrades meanwhile', async () => {
    const instance = await spawnInstance({ SHUTDOWN_GRACE_MS: 2000 });
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
});
