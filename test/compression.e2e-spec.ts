import type { INestApplication } from '@nestjs/common';
import type { Socket } from 'node:net';
import { createApp } from '../src/app.factory.js';
import { MetricsService } from '../src/metrics/metrics.service.js';
import type { Environment } from '../src/config/environment.js';
import { handshake } from './support/handshake.js';
import { createRoom } from './support/rest.js';
import { TEST_SECRET, token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

async function start(env: Environment): Promise<{ app: INestApplication; http: string; ws: string }> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, ...env }, false);
  await app.listen(0, '127.0.0.1');
  const http = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  return { app, http, ws: `${http.replace('http', 'ws')}/api/v1/chats/ws` };
}

/** Bytes the client has read from its TCP socket so far: what crossed the wire. */
const bytesRead = (client: TestClient) => ((client.socket as unknown as { _socket: Socket })._socket).bytesRead;

describe('permessage-deflate', () => {
  it('is declined by default', async () => {
    const { app, ws } = await start({});
    try {
      const client = await TestClient.connect(ws, token('alice'), { perMessageDeflate: true });
      expect(client.socket.extensions).toBe('');
      await client.close();
    } finally {
      await app.close();
    }
  });

  it('when on, sends frames above the threshold compressed, with the same content', async () => {
    const { app, http, ws } = await start({ WS_PERMESSAGE_DEFLATE: 'true', WS_DEFLATE_THRESHOLD_BYTES: 256 });
    try {
      const roomId = await createRoom(http, 'alice', ['bob', 'carol']);
      const alice = await TestClient.connect(ws, token('alice'));
      const bob = await TestClient.connect(ws, token('bob'), { perMessageDeflate: true });
      const carol = await TestClient.connect(ws, token('carol'), { perMessageDeflate: false });
      expect(bob.socket.extensions).toBe('permessage-deflate');
      // Bounded memory: no context kept between messages, a small server window.
      const offer = await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
      expect(offer.headers['sec-websocket-extensions']).toBe(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12',
      );
      expect(carol.socket.extensions).toBe('');
      // Offers the server cannot accept are declined (RFC 7692 §7): the connection opens without compression,
      // or with the first offer it can accept.
      for (const declined of [
        'permessage-deflate; server_max_window_bits=99',
        'permessage-deflate; server_max_window_bits=10',
        'permessage-deflate; client_max_window_bits; server_max_window_bits=11',
        'permessage-deflate; foo',
        'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      ]) {
        const answer = await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': declined });
        expect({ declined, status: answer.status, extensions: answer.headers['sec-websocket-extensions'] }).toEqual({ declined, status: 101, extensions: undefined });
      }
      const second = await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=9, permessage-deflate' });
      expect({ status: second.status, extensions: second.headers['sec-websocket-extensions'] }).toEqual({
        status: 101,
        extensions: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12',
      });
      // Offers are tried one by one only when the list as a whole fails, and only the first 16: a client sends one or two.
      const accepted = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12';
      const afterUnknown = await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': 'permessage-deflate; foo, permessage-deflate' });
      expect(afterUnknown.headers['sec-websocket-extensions']).toBe(accepted);
      const sixteenth = Array.from({ length: 15 }, () => 'permessage-deflate; foo').concat('permessage-deflate').join(', ');
      expect((await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': sixteenth })).headers['sec-websocket-extensions']).toBe(accepted);
      const seventeenth = Array.from({ length: 16 }, () => 'permessage-deflate; foo').concat('permessage-deflate').join(', ');
      const tooFar = await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': seventeenth });
      expect({ status: tooFar.status, extensions: tooFar.headers['sec-websocket-extensions'] }).toEqual({ status: 101, extensions: undefined });
      // A header that is not a list of extensions at all is refused like every malformed handshake: 400, as JSON.
      const malformed = await handshake(`${ws}?token=${token('bob')}`, { 'Sec-WebSocket-Extensions': 'permessage-deflate; a b' });
      expect({ status: malformed.status, body: malformed.body }).toEqual({
        status: 400,
        body: { error: 'bad_request', message: 'The upgrade request is malformed: Invalid or unacceptable Sec-WebSocket-Extensions header' },
      });
      for (const client of [alice, bob, carol]) {
        client.send({ type: 'join_room', room_id: roomId });
        await client.next('joined');
      }

      const content = 'The weekly review moves to Thursday at ten; bring the figures. '.repeat(30);
      const [bobBefore, carolBefore] = [bytesRead(bob), bytesRead(carol)];
      alice.send({ type: 'send_message', room_id: roomId, content });
      const [toBob, toCarol] = await Promise.all([bob.next('message'), carol.next('message')]);
      expect(toBob).toEqual(toCarol);
      expect((toBob.message as { content: string }).content).toBe(content);

      const plain = bytesRead(carol) - carolBefore;
      const compressed = bytesRead(bob) - bobBefore;
      expect(plain).toBeGreaterThan(content.length);
      expect(compressed).toBeLessThan(plain / 4);

      // A small frame stays below the threshold: sent as it is.
      const before = bytesRead(bob);
      bob.send({ type: 'ping' });
      await bob.next('pong');
      expect(bytesRead(bob) - before).toBe(2 + JSON.stringify({ type: 'pong' }).length);
      for (const client of [alice, bob, carol]) await client.close();
    } finally {
      await app.close();
    }
  });

  it('closes a connection whose compressed frame does not inflate with 1007, and serves the others', async () => {
    const { app, ws } = await start({ WS_PERMESSAGE_DEFLATE: 'true' });
    try {
      const breaker = await TestClient.connect(ws, token('alice'), { perMessageDeflate: true });
      const other = await TestClient.connect(ws, token('bob'), { perMessageDeflate: true });
      // FIN, RSV1 (compressed), text; masked with a zero key; a deflate block of the reserved type 3.
      (breaker.socket as unknown as { _socket: Socket })._socket.write(Buffer.from([0xc1, 0x84, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
      expect(await breaker.closed).toMatchObject({ code: 1007 });
      expect(await app.get(MetricsService).render()).toContain('chat_server_closes_total{reason="invalid_data"} 1');
      other.send({ type: 'ping' });
      expect(await other.next('pong')).toMatchObject({ type: 'pong' });
      await other.close();
    } finally {
      await app.close();
    }
  });
});
