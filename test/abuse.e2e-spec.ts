import { useInstances } from './support/instances.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe('a client flooding at five times the rate', () => {
  const running = useInstances({ env: { RATE_LIMIT_PER_SECOND: 2, RATE_LIMIT_BURST: 4, RATE_LIMIT_ABUSE_WINDOW_MS: 2000 } });

  it('is closed with 1008 once the abuse window has passed, while a polite client keeps being served', async () => {
    // Before the connection exists, so the whole abuse window lies after it.
    const started = Date.now();
    const flooder = await TestClient.connect(running.ws, token('flooder'));
    const polite = await TestClient.connect(running.ws, token('polite'));
    const flood = setInterval(() => {
      if (flooder.socket.readyState === flooder.socket.OPEN) for (let i = 0; i < 3; i++) flooder.send({ type: 'ping' });
    }, 100);
    try {
      const closed = await flooder.closed;
      expect(closed.code).toBe(1008);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      expect(flooder.take('error').every((frame) => frame.code === 'rate_limited')).toBe(true);
    } finally {
      clearInterval(flood);
    }
    polite.send({ type: 'ping', ref: 'still-here' });
    expect(await polite.next('pong')).toEqual({ type: 'pong', ref: 'still-here' });
    await polite.close();
  }, 20_000);

  it('cuts a client that sends protocol pings faster than it reads their pongs, without a close frame, and serves others', async () => {
    const pinger = await TestClient.connect(running.ws, token('pinger'));
    const polite = await TestClient.connect(running.ws, token('polite'));
    for (let i = 0; i < 200; i++) pinger.socket.ping('p');
    expect((await pinger.closed).code).toBe(1006);
    polite.send({ type: 'ping', ref: 'still-here' });
    expect(await polite.next('pong')).toEqual({ type: 'pong', ref: 'still-here' });
    await polite.close();
  });
});

describe('a client sending large frames, within the frame rate', () => {
  const running = useInstances({ env: { RATE_LIMIT_BYTES_PER_SECOND: 16_384 } });

  it('is held to RATE_LIMIT_BYTES_PER_SECOND with all its connections: frames past the burst are dropped with rate_limited, and pass again once it refills', async () => {
    const [client, second] = [await TestClient.connect(running.ws, token('bulky')), await TestClient.connect(running.ws, token('bulky'))];
    const other = await TestClient.connect(running.ws, token('someone-else'));
    // The burst is one largest frame (MAX_PAYLOAD_BYTES, 64 KiB), more than two seconds' worth here: two of these fit.
    const padding = 'x'.repeat(30_000);
    for (const ref of ['1', '2']) client.send({ type: 'ping', ref, padding });
    expect(await client.next('pong')).toEqual({ type: 'pong', ref: '1' });
    expect(await client.next('pong')).toEqual({ type: 'pong', ref: '2' });
    // The user's other connection shares the budget; another user has their own.
    second.send({ type: 'ping', ref: '3', padding });
    expect(await second.next('error')).toMatchObject({ type: 'error', code: 'rate_limited' });
    other.send({ type: 'ping', ref: 'other', padding });
    expect(await other.next('pong')).toEqual({ type: 'pong', ref: 'other' });
    // 16 KiB a second: 30 KB fit again within two seconds.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    second.send({ type: 'ping', ref: '4', padding });
    expect(await second.next('pong')).toEqual({ type: 'pong', ref: '4' });
    expect([...client.take('pong'), ...second.take('pong')]).toEqual([]);
    await Promise.all([client, second, other].map((c) => c.close()));
  });
});
