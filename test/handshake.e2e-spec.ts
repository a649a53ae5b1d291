import { JwtService } from '@nestjs/jwt';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { MODES, startInstance, useInstances } from './support/instances.js';
import { handshake } from './support/handshake.js';
import { createRoom } from './support/rest.js';
import { TEST_SECRET, token, tokenWithClaims, unsignedToken } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const ALLOWED_ORIGIN = 'http://app.example.com';
const SKEW_S = 30;

function hs512Token(sub: string): string {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return new JwtService({ secret: TEST_SECRET }).sign({ sub, exp }, { algorithm: 'HS512' });
}

function withToken(url: string, jwt: string): string {
  return `${url}?token=${encodeURIComponent(jwt)}`;
}

/** A refusal is a plain HTTP answer whose JSON body is exactly `{error, message}`. */
function expectRefusal(result: { status: number; headers: Record<string, unknown>; body: unknown }, status: number, error: string) {
  expect({ status: result.status, body: result.body }).toEqual({ status, body: { error, message: expect.any(String) } });
  expect(result.headers['content-type']).toMatch(/^application\/json/);
  expect((result.body as { message: string }).message.length).toBeGreaterThan(0);
}

/** Proves the process still accepts and serves a good client. */
async function expectServes(url: string, user = 'good-client'): Promise<void> {
  const client = await TestClient.connect(url, token(user));
  client.send({ type: 'ping', ref: 'alive' });
  expect(await client.next('pong')).toEqual({ type: 'pong', ref: 'alive' });
  await client.close();
}

describe('handshake', () => {
  const running = useInstances({ env: { CORS_ORIGINS: ALLOWED_ORIGIN, JWT_CLOCK_SKEW_S: SKEW_S } });

  describe('token carriers', () => {
    it('accepts ?token= and sends the connected frame first, in its exact shape', async () => {
      const first = await TestClient.connect(running.ws, token('alice'));
      const second = await TestClient.connect(running.ws, token('alice'));
      const expected = {
        type: 'connected',
        message: 'WebSocket connection established',
        user_id: 'alice',
        connection_id: expect.any(String),
        heartbeat_interval_ms: 10000,
      };
      expect(first.frames[0]).toEqual(expected);
      expect(second.frames[0]).toEqual(expected);
      expect(first.frames[0].connection_id).not.toEqual('');
      expect(first.frames[0].connection_id).not.toEqual(second.frames[0].connection_id);
      expect(first.socket.protocol).toBe('');
      await Promise.all([first.close(), second.close()]);
    });

    it('accepts Authorization: Bearer', async () => {
      const client = await TestClient.connect(running.ws, undefined, { headers: { Authorization: `Bearer ${token('bob')}` } });
      expect(client.frames[0]).toMatchObject({ type: 'connected', user_id: 'bob' });
      expect(client.socket.protocol).toBe('');
      await client.close();
    });

    it('accepts the access_token subprotocol pair and selects access_token', async () => {
      const client = await TestClient.connect(running.ws, undefined, { protocols: ['access_token', token('carol')] });
      expect(client.frames[0]).toMatchObject({ type: 'connected', user_id: 'carol' });
      expect(client.socket.protocol).toBe('access_token');
      await client.close();
    });

    it('selects access_token whenever it is offered, whichever carrier won', async () => {
      const viaQuery = await TestClient.connect(running.ws, token('dave'), { protocols: ['access_token'] });
      const viaBearer = await TestClient.connect(running.ws, undefined, {
        protocols: ['access_token'],
        headers: { Authorization: `Bearer ${token('erin')}` },
      });
      expect(viaQuery.frames[0]).toMatchObject({ type: 'connected', user_id: 'dave' });
      expect(viaBearer.frames[0]).toMatchObject({ type: 'connected', user_id: 'erin' });
      expect(viaQuery.socket.protocol).toBe('access_token');
      expect(viaBearer.socket.protocol).toBe('access_token');
      await Promise.all([viaQuery.close(), viaBearer.close()]);
    });

    it('uses the query token before any header, even a bad one', async () => {
      const overBadHeaders = await TestClient.connect(running.ws, token('alice'), {
        protocols: ['access_token', 'not-a-jwt'],
        headers: { Authorization: 'Bearer not-a-jwt' },
      });
      const overGoodHeaders = await TestClient.connect(running.ws, token('alice'), {
        protocols: ['access_token', token('carol')],
        headers: { Authorization: `Bearer ${token('bob')}` },
      });
      expect(overBadHeaders.frames[0]).toMatchObject({ type: 'connected', user_id: 'alice' });
      expect(overGoodHeaders.frames[0]).toMatchObject({ type: 'connected', user_id: 'alice' });
      expect(overBadHeaders.socket.protocol).toBe('access_token');
      await Promise.all([overBadHeaders.close(), overGoodHeaders.close()]);
    });

    it('uses the Bearer header before the subprotocol, even a bad one', async () => {
      const client = await TestClient.connect(running.ws, undefined, {
        protocols: ['access_token', 'not-a-jwt'],
        headers: { Authorization: `Bearer ${token('bob')}` },
      });
      expect(client.frames[0]).toMatchObject({ type: 'connected', user_id: 'bob' });
      expect(client.socket.protocol).toBe('access_token');
      await client.close();
    });

    it('does not fall back to a later carrier when the first present one is bad', async () => {
      const badQuery = await handshake(withToken(running.ws, 'not-a-jwt'), {
        Authorization: `Bearer ${token('bob')}`,
        'Sec-WebSocket-Protocol': `access_token, ${token('carol')}`,
      });
      expectRefusal(badQuery, 401, 'unauthorized');
      const badBearer = await handshake(running.ws, {
        Authorization: `Bearer ${token('bob', { secret: 'another-secret-0123456789' })}`,
        'Sec-WebSocket-Protocol': `access_token, ${token('carol')}`,
      });
      expectRefusal(badBearer, 401, 'unauthorized');
      await expectServes(running.ws);
    });
  });

  describe('refusals', () => {
    const unauthorized: Array<[string, { query?: string; headers?: Record<string, string> }]> = [
      ['no token', {}],
      ['a token signed with another secret', { query: token('alice', { secret: 'another-secret-0123456789' }) }],
      ['a malformed token', { query: 'not.a.jwt' }],
      ['an alg:none token', { query: unsignedToken('alice') }],
      ['a token without sub', { query: tokenWithClaims({ exp: Math.floor(Date.now() / 1000) + 3600 }) }],
      ['an HS512 token when HS256 is configured', { query: hs512Token('alice') }],
      ['an alg:none Bearer token', { headers: { Authorization: `Bearer ${unsignedToken('alice')}` } }],
      ['a malformed subprotocol token', { headers: { 'Sec-WebSocket-Protocol': 'access_token, not-a-jwt' } }],
    ];

    it.each(unauthorized)('refuses %s with 401 unauthorized', async (_name, { query, headers }) => {
      const url = query === undefined ? running.ws : withToken(running.ws, query);
      expectRefusal(await handshake(url, headers), 401, 'unauthorized');
      await expectServes(running.ws);
    });

    it('refuses a token expired beyond the clock skew with 403 token_expired, on every carrier', async () => {
      const expired = token('alice', { expiresInS: -(SKEW_S + 30) });
      expectRefusal(await handshake(withToken(running.ws, expired)), 403, 'token_expired');
      expectRefusal(await handshake(running.ws, { Authorization: `Bearer ${expired}` }), 403, 'token_expired');
      expectRefusal(await handshake(running.ws, { 'Sec-WebSocket-Protocol': `access_token, ${expired}` }), 403, 'token_expired');
      await expectServes(running.ws);
    });

    it('accepts a token expired by less than the clock skew', async () => {
      const client = await TestClient.connect(running.ws, token('alice', { expiresInS: -(SKEW_S - 20) }));
      expect(client.frames[0]).toMatchObject({ type: 'connected', user_id: 'alice' });
      await client.close();
    });

    it('refuses an Origin outside CORS_ORIGINS with 403 origin_not_allowed', async () => {
      for (const origin of ['http://evil.example.com', 'https://app.example.com', 'http://app.example.com.evil.com']) {
        expectRefusal(await handshake(withToken(running.ws, token('alice')), { Origin: origin }), 403, 'origin_not_allowed');
        // The draft (version 8) names it Sec-WebSocket-Origin.
        const draft = { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': origin };
        expectRefusal(await handshake(withToken(running.ws, token('alice')), draft), 403, 'origin_not_allowed');
      }
      expect((await handshake(withToken(running.ws, token('alice')), { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': ALLOWED_ORIGIN })).status).toBe(101);
      await expectServes(running.ws);
    });

    it('accepts an allowed Origin and a request without Origin', async () => {
      const withOrigin = await TestClient.connect(running.ws, token('alice'), { origin: ALLOWED_ORIGIN });
      expect(withOrigin.frames[0]).toMatchObject({ type: 'connected', user_id: 'alice' });
      const raw = await handshake(withToken(running.ws, token('alice')));
      expect(raw.status).toBe(101);
      await withOrigin.close();
    });

    it('closes a refused upgrade itself, even when the client keeps its half of the connection open', async () => {
      // Otherwise each such socket stays open for good: it counts against MAX_HTTP_SOCKETS and holds shutdown.
      const { port } = new URL(running.http);
      const socket = connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('error', () => undefined);
      // The client keeps writing after the answer: to a socket the server let go of, the kernel answers with a reset.
      const poke = setInterval(() => socket.write('x'), 100);
      const closed = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2000);
        socket.once('close', () => (clearTimeout(timer), resolve(true)));
      });
      socket.write(
        'GET /api/v1/chats/ws?token=bad HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      const closedByServer = await closed;
      clearInterval(poke);
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(closedByServer).toBe(true);
    });

    it('answers a malformed handshake with a valid token 400 bad_request, as JSON like every refusal', async () => {
      const url = `${running.ws}?token=${encodeURIComponent(token('alice'))}`;
      const malformed: Array<Record<string, string>> = [
        { 'Sec-WebSocket-Key': 'short' },
        { 'Sec-WebSocket-Key': '' },
        { 'Sec-WebSocket-Version': '99' },
        { Upgrade: 'h2c' },
        // What ws itself refuses after our checks: a subprotocol list it cannot parse.
        { 'Sec-WebSocket-Protocol': 'access_token, a b' },
      ];
      for (const headers of malformed) {
        const result = await handshake(url, headers);
        expect({ headers, status: result.status, type: result.headers['content-type'], body: result.body }).toEqual({
          headers,
          status: 400,
          type: 'application/json',
          body: { error: 'bad_request', message: expect.stringMatching(/^The upgrade request is malformed: /) },
        });
      }
      await expectServes(running.ws);
    });

    it('answers an upgrade over HTTP/1.0, or without a Host header, 400 bad_request: RFC 6455 asks for both', async () => {
      const { port } = new URL(running.http);
      const upgrade = (line: string, host: string) =>
        new Promise<string>((resolve) => {
          const socket = connect({ port: Number(port), host: '127.0.0.1' });
          let answer = '';
          socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
          socket.on('error', () => undefined);
          socket.once('close', () => resolve(answer));
          socket.write(
            `GET /api/v1/chats/ws?token=${encodeURIComponent(token('alice'))} ${line}\r\n${host}Connection: Upgrade\r\nUpgrade: websocket\r\n` +
              'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
          );
        });
      for (const [line, host, problem] of [
        ['HTTP/1.0', 'Host: x\r\n', 'the request must be HTTP/1.1 or later'],
        ['HTTP/1.1', '', 'the Host header is required'],
      ]) {
        const [head, body] = (await upgrade(line, host)).split('\r\n\r\n');
        expect(head).toMatch(/^HTTP\/1\.1 400 /);
        expect(JSON.parse(body)).toEqual({ error: 'bad_request', message: `The upgrade request is malformed: ${problem}` });
      }
      await expectServes(running.ws);
    });

    it('answers 404 on any other path', async () => {
      const base = new URL(running.http);
      for (const path of ['/', '/api/v1/chats/wss', '/api/v1/chats', '/api/v1/chats/ws/extra', '/ws']) {
        const result = await handshake(`${base.origin}${path}?token=${encodeURIComponent(token('alice'))}`);
        expect({ path, status: result.status }).toEqual({ path, status: 404 });
      }
      await expectServes(running.ws);
    });
  });

  describe('capacity', () => {
    const limited = useInstances({ env: { MAX_CONNECTIONS: 2 } });

    it('refuses with 503 unavailable at MAX_CONNECTIONS and admits again once a slot frees', async () => {
      const roomId = await createRoom(limited.http, 'alice', ['bob']);
      const alice = await TestClient.connect(limited.ws, token('alice'));
      const bob = await TestClient.connect(limited.ws, token('bob'));
      expectRefusal(await handshake(withToken(limited.ws, token('carol'))), 503, 'unavailable');
      alice.send({ type: 'join_room', room_id: roomId });
      await alice.next('joined');
      bob.send({ type: 'join_room', room_id: roomId });
      await bob.next('joined');
      await alice.next('presence');
      await bob.close();
      expect(await alice.next('presence')).toMatchObject({ user_id: 'bob', status: 'offline' });
      await expectServes(limited.ws, 'carol');
      await alice.close();
    });
  });

  describe('draining', () => {
    it('refuses new upgrades with 503 unavailable while the instance drains', async () => {
      const draining = await startInstance({ SHUTDOWN_GRACE_MS: 5000 });
      const witness = await TestClient.connect(draining.ws, token('alice'));
      const holder = await TestClient.connect(draining.ws, token('bob'));
      const tcp = (holder.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      const closing = draining.close();
      expect((await witness.closed).code).toBe(1012);
      expectRefusal(await handshake(withToken(draining.ws, token('carol'))), 503, 'unavailable');
      tcp.resume();
      expect((await holder.closed).code).toBe(1012);
      await closing;
    });
  });
});

/** A client text frame (masked, as RFC 6455 requires of clients) of a short payload. */
function clientFrame(frame: object): Buffer {
  const payload = Buffer.from(JSON.stringify(frame));
  if (payload.length >= 126) throw new Error('a short frame only');
  const mask = randomBytes(4);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((byte, i) => byte ^ mask[i % 4])]);
}

describe.each(MODES)('the connected frame comes first (%s)', (mode) => {
  const chat = useInstances({ mode });

  it('also when the client’s first frames arrive with its upgrade request, before the server has sent connected', async () => {
    const roomId = await chat.room('alice', []);
    const url = new URL(withToken(chat.ws, token('alice')));
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      Buffer.concat([
        Buffer.from(
          `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
        clientFrame({ type: 'ping', ref: 'early' }),
        clientFrame({ type: 'join_room', room_id: roomId, ref: 'early-join' }),
      ]),
    );
    const types = () => [...received.matchAll(/\{"type":"(\w+)"/g)].map((match) => match[1]);
    const deadline = Date.now() + 5000;
    while (!types().includes('joined') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    socket.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
    expect(types()).toEqual(['connected', 'pong', 'joined']);
  });
});
