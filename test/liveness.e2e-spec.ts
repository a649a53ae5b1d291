import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { collect } from './support/client.js';
import { startInstance, useInstances } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { token, tokenWithClaims } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const nowS = () => Math.floor(Date.now() / 1000);

/** `client.closed`, or a failure naming what did not happen within `ms`. */
function closedWithin(client: TestClient, ms: number): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    void client.closed.then((closed) => {
      clearTimeout(timer);
      resolve({ ...closed, at: Date.now() });
    });
  });
}

/** Resolves with the arrival times of the next `count` protocol pings; rejects if the socket closes first. */
function protocolPings(client: TestClient, count: number): Promise<number[]> {
  const times: number[] = [];
  return new Promise((resolve, reject) => {
    const onClose = (code: number) => reject(new Error(`closed with ${code} after ${times.length} of ${count} pings`));
    const onPing = () => {
      times.push(Date.now());
      if (times.length < count) return;
      client.socket.off('ping', onPing).off('close', onClose);
      resolve(times);
    };
    client.socket.on('ping', onPing).once('close', onClose);
  });
}

async function expectPong(client: TestClient, ref: string): Promise<void> {
  client.send({ type: 'ping', ref });
  expect(await client.next('pong')).toEqual({ type: 'pong', ref });
}

/** A frame of exactly `bytes` bytes that the server answers with `pong`. */
function pingOfSize(bytes: number): string {
  const bare = JSON.stringify({ type: 'ping', ref: 'sized', pad: '' });
  return JSON.stringify({ type: 'ping', ref: 'sized', pad: 'a'.repeat(bytes - bare.length) });
}

describe('liveness', () => {
  describe('with default settings', () => {
    const running = useInstances();

    it('answers a JSON ping with pong, echoing ref when there is one', async () => {
      const client = await TestClient.connect(running.ws, token('alice'));
      client.send({ type: 'ping' });
      expect(await client.next('pong')).toEqual({ type: 'pong' });
      await expectPong(client, 'p-1');
      await client.close();
    });

    it('accepts a frame of MAX_PAYLOAD_BYTES and closes on a larger one with 1009', async () => {
      const client = await TestClient.connect(running.ws, token('alice'));
      client.send(pingOfSize(65536));
      expect(await client.next('pong')).toEqual({ type: 'pong', ref: 'sized' });
      client.send(pingOfSize(65537));
      expect((await closedWithin(client, 3000)).code).toBe(1009);
    });

    it('closes on a text frame that is not valid UTF-8 with 1007', async () => {
      const client = await TestClient.connect(running.ws, token('alice'));
      client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect((await closedWithin(client, 3000)).code).toBe(1007);
    });

    it('drops a burst of 1000 frames over the rate with one rate_limited error and stays open', async () => {
      const client = await TestClient.connect(running.ws, token('alice'));
      for (let i = 0; i < 1000; i++) client.send({ type: 'ping', ref: `b${i}` });
      expect(await client.next('error')).toMatchObject({ type: 'error', code: 'rate_limited', message: expect.any(String) });
      await client.nothing(1200, 'error');
      const pongs = client.take('pong');
      expect(pongs.length).toBeGreaterThanOrEqual(40);
      expect(pongs.length).toBeLessThan(100);
      expect(pongs.slice(0, 40).map((pong) => pong.ref)).toEqual(Array.from({ length: 40 }, (_, i) => `b${i}`));
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
      await expectPong(client, 'after-burst');
      await client.close();
    });
  });

  describe('heartbeat', () => {
    const interval = 200;
    const running = useInstances({ env: { HEARTBEAT_INTERVAL_MS: interval } });

    it('pings every interval and keeps a client that answers them', async () => {
      const client = await TestClient.connect(running.ws, token('alice'));
      expect(client.frames[0]).toMatchObject({ type: 'connected', heartbeat_interval_ms: interval });
      const times = await protocolPings(client, 6);
      const gaps = times.slice(1).map((time, i) => time - times[i]);
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(interval * 0.6);
        expect(gap).toBeLessThanOrEqual(interval * 2);
      }
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
      await expectPong(client, 'still-here');
      await client.close();
    });

    it('terminates a client that answers nothing for two intervals', async () => {
      const silent = await TestClient.connect(running.ws, token('alice'), { autoPong: false });
      const openedAt = Date.now();
      const [closed] = await Promise.all([closedWithin(silent, interval * 10), protocolPings(silent, 1)]);
      expect(closed.at - openedAt).toBeGreaterThanOrEqual(interval * 2 - 50);
      expect(closed.at - openedAt).toBeLessThanOrEqual(interval * 5);
      expect(closed.code).not.toBe(1000);
    });

    it('keeps a client that sends frames but never answers protocol pings', async () => {
      const client = await TestClient.connect(running.ws, token('alice'), { autoPong: false });
      let chats = 0;
      const chatter = setInterval(() => {
        client.send({ type: 'ping' });
        chats += 1;
      }, interval / 2);
      try {
        await protocolPings(client, 6);
        expect(client.socket.readyState).toBe(WebSocket.OPEN);
      } finally {
        clearInterval(chatter);
      }
      // Every chatter ping answered first, so the next pong is the one asked for.
      await collect(client, 'pong', chats);
      await expectPong(client, 'chatty');
      await client.close();
    });
  });

  describe('token expiry', () => {
    const running = useInstances({ env: { JWT_CLOCK_SKEW_S: 0 } });

    /** A connection whose token expires 2 s from now (at a whole second), with that deadline in ms. */
    async function expiringConnection(sub: string): Promise<{ client: TestClient; deadline: number }> {
      const exp = nowS() + 2;
      const client = await TestClient.connect(running.ws, tokenWithClaims({ sub, exp }));
      return { client, deadline: exp * 1000 };
    }

    it('closes with 1008 token_expired when the token expires', async () => {
      const { client, deadline } = await expiringConnection('alice');
      await expectPong(client, 'before-expiry');
      const closed = await closedWithin(client, 4000);
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 1008, reason: 'token_expired' });
      expect(closed.at).toBeGreaterThanOrEqual(deadline - 20);
      expect(closed.at).toBeLessThanOrEqual(deadline + 1000);
    });

    it('keeps a connection that refreshed in time open past the old expiry', async () => {
      const { client, deadline } = await expiringConnection('alice');
      const exp = nowS() + 3600;
      client.send({ type: 'refresh_token', token: tokenWithClaims({ sub: 'alice', exp }), ref: 'r1' });
      expect(await client.next('token_refreshed')).toEqual({
        type: 'token_refreshed',
        expires_at: new Date(exp * 1000).toISOString(),
        ref: 'r1',
      });
      await client.nothing(deadline - Date.now() + 700, 'error');
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
      await expectPong(client, 'after-old-expiry');
      await client.close();
    });

    it('refuses a refresh for another sub with token_invalid, and the old expiry still closes', async () => {
      const { client, deadline } = await expiringConnection('alice');
      client.send({ type: 'refresh_token', token: tokenWithClaims({ sub: 'mallory', exp: nowS() + 3600 }), ref: 'r2' });
      expect(await client.next('error')).toMatchObject({ type: 'error', code: 'token_invalid', ref: 'r2' });
      expect(client.take('token_refreshed')).toEqual([]);
      await expectPong(client, 'after-refusal');
      const closed = await closedWithin(client, 4000);
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 1008, reason: 'token_expired' });
      expect(closed.at).toBeLessThanOrEqual(deadline + 1000);
    });

    it('refuses a bad refresh token with token_invalid and keeps the connection', async () => {
      const client = await TestClient.connect(running.ws, token('alice'));
      const bad = [
        'not-a-jwt',
        token('alice', { secret: 'another-secret-0123456789' }),
        token('alice', { expiresInS: -60 }),
        tokenWithClaims({ exp: nowS() + 3600 }),
      ];
      for (const [i, jwt] of bad.entries()) {
        client.send({ type: 'refresh_token', token: jwt, ref: `bad-${i}` });
        expect(await client.next('error')).toMatchObject({ type: 'error', code: 'token_invalid', ref: `bad-${i}` });
      }
      expect(client.take('token_refreshed')).toEqual([]);
      await expectPong(client, 'after-bad-refresh');
      await client.close();
    });
  });

  describe('slow reader', () => {
    const running = useInstances({
      env: { MAX_BUFFERED_BYTES: 1024, MAX_MESSAGE_LENGTH: 60_000, RATE_LIMIT_PER_SECOND: 10_000, RATE_LIMIT_BURST: 100_000 },
    });

    it('closes a client that stops reading with 1013', async () => {
      const roomId = await createRoom(running.http, 'alice', ['bob']);
      const bob = await TestClient.connect(running.ws, token('bob'));
      bob.send({ type: 'join_room', room_id: roomId });
      await bob.next('joined');
      const tcp = (bob.socket as unknown as { _socket: Socket })._socket;
      tcp.pause();
      const content = 'x'.repeat(60_000);
      const send = () =>
        fetch(`${running.http}/api/v1/chats/rooms/${roomId}/messages`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token('alice')}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ content }),
        }).then((response) => expect(response.status).toBe(201));
      for (let batch = 0; batch < 40; batch++) await Promise.all(Array.from({ length: 10 }, send));
      tcp.resume();
      const closed = await closedWithin(bob, 10_000);
      expect(closed.code).toBe(1013);
    });
  });

  describe('shutdown', () => {
    it('closes connected clients with 1012 and finishes within a few seconds', async () => {
      const running = await startInstance();
      const roomId = await createRoom(running.http, 'alice', ['bob']);
      const alice = await TestClient.connect(running.ws, token('alice'));
      const bob = await TestClient.connect(running.ws, token('bob'));
      alice.send({ type: 'join_room', room_id: roomId });
      await alice.next('joined');
      const startedAt = Date.now();
      const closing = running.close();
      const [aliceClosed, bobClosed] = await Promise.all([closedWithin(alice, 3000), closedWithin(bob, 3000)]);
      expect([aliceClosed.code, bobClosed.code]).toEqual([1012, 1012]);
      await closing;
      expect(Date.now() - startedAt).toBeLessThan(2500);
    });
  });
});
