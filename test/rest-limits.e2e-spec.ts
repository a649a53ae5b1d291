import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import request from 'supertest';
import { gc } from './support/gc.js';
import { useInstances } from './support/instances.js';
import { logs } from './support/logs.js';
import { PNG, createRoom, useUploadDir } from './support/rest.js';
import { token } from './support/tokens.js';

/** REST limits after authentication, bounded limiter memory, sockets and header timeouts, and the smaller REST rules. */

const ROOMS = '/api/v1/chats/rooms';

function expectTooMany(response: request.Response): void {
  expect(response.status).toBe(429);
  expect(response.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: expect.any(String) });
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
}

describe('the REST rate, after authentication', () => {
  const app = useInstances({ env: { REST_RATE_LIMIT_PER_MINUTE: 5, REST_RATE_LIMIT_ANONYMOUS_PER_MINUTE: 3 } });

  it('counts a user once whatever token or spelling of Bearer they use, and answers 429 with Retry-After', async () => {
    const spellings = ['Bearer', 'bearer', 'BEARER', 'bEaReR', 'Bearer  '];
    for (const [i, scheme] of spellings.entries()) {
      const jwt = token('alice', { expiresInS: 3600 + i });
      await request(app.first.http).get(ROOMS).set('Authorization', `${scheme} ${jwt}`).expect(200);
    }
    expectTooMany(await request(app.first.http).get(ROOMS).set('Authorization', `bearer   ${token('alice', { expiresInS: 99 })}`));
    await request(app.first.http).get(ROOMS).set('Authorization', `Bearer ${token('bob')}`).expect(200);
  });

  it('counts requests without a valid token per address, apart from users', async () => {
    for (let i = 0; i < 3; i++) {
      await request(app.first.http).get(ROOMS).set('Authorization', `Bearer junk-${i}`).expect(401);
    }
    expectTooMany(await request(app.first.http).get(ROOMS).set('Authorization', 'Bearer junk-again'));
    expectTooMany(await request(app.first.http).get(ROOMS));
    await request(app.first.http).get(ROOMS).set('Authorization', `Bearer ${token('carol')}`).expect(200);
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY says so', async () => {
    for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']) {
      const response = await request(app.first.http).get(ROOMS).set('X-Forwarded-For', address);
      expect(response.status).toBe(429);
    }
  });
});

describe('TRUST_PROXY=loopback', () => {
  const app = useInstances({ env: { REST_RATE_LIMIT_ANONYMOUS_PER_MINUTE: 2, TRUST_PROXY: 'loopback' } });

  it('counts the address the proxy names', async () => {
    for (let i = 0; i < 2; i++) await request(app.first.http).get(ROOMS).set('X-Forwarded-For', '203.0.113.7').expect(401);
    expectTooMany(await request(app.first.http).get(ROOMS).set('X-Forwarded-For', '203.0.113.7'));
    await request(app.first.http).get(ROOMS).set('X-Forwarded-For', '203.0.113.8').expect(401);
  });

  it('counts the addresses of one IPv6 /64 as one client, so changing addresses within it gains nothing', async () => {
    for (const address of ['2001:db8:7:7::1', '2001:db8:7:7::2']) await request(app.first.http).get(ROOMS).set('X-Forwarded-For', address).expect(401);
    expectTooMany(await request(app.first.http).get(ROOMS).set('X-Forwarded-For', '2001:db8:7:7:abcd::3'));
    await request(app.first.http).get(ROOMS).set('X-Forwarded-For', '2001:db8:7:8::1').expect(401);
  });
});

describe('what the anonymous limit does not count', () => {
  const uploads = useUploadDir();
  const app = useInstances({ env: async () => ({ ...(await uploads.env()), REST_RATE_LIMIT_ANONYMOUS_PER_MINUTE: 2 }) });

  it('serves signed file downloads and health to an address past its limit: a page of images fetches many at once', async () => {
    const roomId = await createRoom(app.first.http, 'alice', ['bob']);
    const uploaded = await request(app.first.http)
      .post(`${ROOMS}/${roomId}/upload`)
      .set('Authorization', `Bearer ${token('alice')}`)
      .attach('files', PNG, 'photo.png')
      .expect(201);
    const { url } = (uploaded.body as { files: Array<{ url: string }> }).files[0];
    for (let i = 0; i < 2; i++) await request(app.first.http).get(ROOMS).expect(401);
    expectTooMany(await request(app.first.http).get(ROOMS));
    for (let i = 0; i < 5; i++) {
      const image = await request(app.first.http).get(url).buffer(true).expect(200);
      expect(Buffer.from(image.body as Buffer)).toEqual(PNG);
    }
    await request(app.first.http).get('/health/ready').expect(200);
    expectTooMany(await request(app.first.http).get(ROOMS));
  });
});

describe('the limiter under distinct junk headers', () => {
  const app = useInstances();

  /** `count` requests, `parallel` at a time, each with its own ~15 KB Authorization header; resolves to the statuses seen. */
  async function flood(count: number, parallel: number): Promise<Set<number>> {
    const agent = new Agent({ keepAlive: true, maxSockets: parallel });
    const { port } = new URL(app.first.http);
    const statuses = new Set<number>();
    const junk = 'x'.repeat(15_000);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        await new Promise<void>((resolve, reject) => {
          const req = httpRequest(
            { host: '127.0.0.1', port, path: ROOMS, agent, headers: { Authorization: `Bearer ${i}.${junk}` } },
            (res) => {
              statuses.add(res.statusCode ?? 0);
              res.resume().on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end();
        });
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    agent.destroy();
    return statuses;
  }

  /**
   * Memory after a full garbage collection: what is retained, not what is
   * merely not yet collected. The heap, and Buffers outside it; not RSS,
   * which Node 24 gives back late and unevenly (it stayed 200–290 MB up
   * after this flood with the heap back within 20 MB).
   */
  function retained(): { external: number; heap: number } {
    gc();
    const { external, heapUsed } = process.memoryUsage();
    return { external, heap: heapUsed };
  }

  // Before, each distinct header was a key of the limiter's table: 6,000 of them held about 90 MB for good.
  it('retains under 20 MB of heap and 20 MB of Buffers over 6,000 requests with distinct 15 KB headers', async () => {
    await flood(500, 8); // warm up: the first requests allocate what every request reuses
    const before = retained();
    const statuses = await flood(6_000, 8);
    const after = retained();
    expect(after.heap - before.heap).toBeLessThan(20 * 1024 * 1024);
    expect(after.external - before.external).toBeLessThan(20 * 1024 * 1024);
    expect([...statuses]).toEqual([429]);
    await request(app.first.http).get(ROOMS).set('Authorization', `Bearer ${token('alice')}`).expect(200);
  }, 60_000);
});

describe('sockets and header timeouts', () => {
  const app = useInstances({ env: { MAX_CONNECTIONS: 5, MAX_HTTP_SOCKETS: 10, HTTP_HEADERS_TIMEOUT_MS: 1000 } });

  it('holds at most MAX_HTTP_SOCKETS half-open sockets, closes them after the header timeout, and serves again', async () => {
    const { port } = new URL(app.first.http);
    const sockets: Socket[] = [];
    const closed = Array.from({ length: 40 }, () => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.resume(); // reads the 408, so the server's close reaches us
      socket.on('connect', () => socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: '));
      sockets.push(socket);
      return new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    });
    const started = Date.now();
    const server = app.first.app.getHttpServer() as import('node:http').Server;
    const held = await new Promise<number>((resolve) => setTimeout(() => server.getConnections((_, n) => resolve(n)), 300));
    expect(held).toBeLessThanOrEqual(10);
    const times = await Promise.all(closed);
    expect(Math.max(...times) - started).toBeLessThan(5000);
    await request(app.first.http).get('/health/live').expect(200);
  });
});

describe('sockets per client address, and what the HTTP parser refuses', () => {
  const app = useInstances({
    env: { MAX_CONNECTIONS: 5, MAX_HTTP_SOCKETS: 30, MAX_HTTP_SOCKETS_PER_ADDRESS: 5, TRUST_PROXY: '127.0.0.3', HTTP_HEADERS_TIMEOUT_MS: 1000, HTTP_REQUEST_TIMEOUT_MS: 1000 },
  });
  const port = () => Number(new URL(app.first.http).port);

  /**
   * Writes `raw` on a socket from `from` (and `then`, once the first answer came) and resolves with all
   * it read once the server closed it (or '' if it never answered).
   */
  function exchange(raw: string, from = '127.0.0.1', then?: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect({ port: port(), host: '127.0.0.1', localAddress: from });
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        if (answer === '' && then !== undefined) socket.write(then);
        answer += chunk.toString();
      });
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write(raw));
      socket.on('close', () => resolve(answer));
    });
  }
  const live = (from: string) => exchange('GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', from);

  /** Opens `count` idle sockets from `from`; each tells whether it was closed within `withinMs` of opening. */
  async function openIdle(from: string, count: number, withinMs = 500) {
    const idle = Array.from({ length: count }, () => {
      const socket = connect({ port: port(), host: '127.0.0.1', localAddress: from });
      socket.on('error', () => undefined);
      return { socket, closed: new Promise<void>((resolve) => socket.on('close', () => resolve())) };
    });
    const early = await Promise.all(idle.map(({ closed }) => Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), withinMs))])));
    const close = async () => {
      for (const { socket } of idle) socket.destroy();
      await Promise.all(idle.map(({ closed }) => closed));
    };
    return { early, close };
  }

  it('closes at once the sockets of one address beyond MAX_HTTP_SOCKETS_PER_ADDRESS, keeps the rest, and serves other addresses meanwhile', async () => {
    logs.clear();
    const idle = await openIdle('127.0.0.1', 8);
    expect(idle.early).toEqual([false, false, false, false, false, true, true, true]);
    // Another address is served while this one holds its five.
    expect(await live('127.0.0.2')).toMatch(/^HTTP\/1\.1 200 /);
    // Three refusals, one line: a flood of refused sockets does not flood the log.
    expect(logs.take('warn', /^Refused a socket from 127\.0\.0\.1: it holds MAX_HTTP_SOCKETS_PER_ADDRESS=5 already/, 'HttpSockets')).toHaveLength(1);
    await idle.close();
    expect(await live('127.0.0.1')).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('does not bound a proxy TRUST_PROXY trusts: its sockets carry every client behind it', async () => {
    const idle = await openIdle('127.0.0.3', 8);
    expect(idle.early).toEqual(Array(8).fill(false));
    await idle.close();
  });

  it('answers what the parser refuses (headers too large, headers or body too slow, not HTTP, no Host, an Expect, CONNECT) as JSON, like every error', async () => {
    const cases = [
      ['GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n', 417],
      ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405],
      ['GET /health/live HTTP/1.1\r\n\r\n', 400],
      [`GET /api/v1/chats/rooms?token=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
      ['GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ', 408],
      // A body that stops short (the headers arrived, so a response has begun but sent nothing).
      ['POST /api/v1/chats/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a', 408],
      // Node bounds a chunk's extensions at 16 KB.
      [`POST /api/v1/chats/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=${'x'.repeat(20_000)}\r\n`, 413],
      ['HELLO THERE\r\n\r\n', 400],
    ] as const;
    for (const [raw, status] of cases) {
      const answer = await exchange(raw);
      const [head, body] = answer.split('\r\n\r\n');
      expect({ status, head: head.split('\r\n')[0] }).toEqual({ status, head: expect.stringMatching(new RegExp(`^HTTP/1\\.1 ${status} `)) });
      expect(head).toMatch(/\r\nContent-Type: application\/json(; charset=utf-8)?\r\n/);
      expect(JSON.parse(body)).toEqual({ statusCode: status, error: expect.any(String), message: expect.any(String) });
    }
    expect(await live('127.0.0.1')).toMatch(/^HTTP\/1\.1 200 /);
    // HTTP/1.0 has no Host header to require; an empty one is allowed.
    expect(await exchange('GET /health/live HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await exchange('GET /health/live HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await exchange('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toMatch(/\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/);
  });

  it('writes nothing a client would take for the answer to another request, and answers a next request that stalls', async () => {
    const statuses = (answer: string) => answer.match(/HTTP\/1\.1 \d+/g);
    // Answered before its declared body came: what is wrong with that body later (late, or not HTTP) is no request of the client's.
    expect(statuses(await exchange('GET /health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n'))).toEqual(['HTTP/1.1 200']);
    const chunked = 'GET /health/live HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(statuses(await exchange(chunked, '127.0.0.1', 'zz\r\n'))).toEqual(['HTTP/1.1 200']);
    // Bytes that are not HTTP after a whole request whose answer is pending: a 400 would be read as its answer.
    const pipelined = await exchange(`GET /api/v1/chats/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('alice')}\r\n\r\nGARBAGE\r\n\r\n`);
    expect(statuses(pipelined) ?? []).not.toContain('HTTP/1.1 400');
    // A next request after a whole answer is the client's: its stall is answered, as the first one's would be.
    const next = await exchange('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n', '127.0.0.1', 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(statuses(next)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 408']);
  });
});

describe('a request body that stops coming', () => {
  const app = useInstances({ env: { HTTP_BODY_IDLE_TIMEOUT_MS: 1000, HTTP_REQUEST_TIMEOUT_MS: 60_000 } });
  const body = JSON.stringify({ room_type: 'team', room_name: 'slow', member_ids: ['bob'] });
  const head = `POST ${ROOMS} HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:5173\r\nAuthorization: Bearer ${token('alice')}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;

  /** Sends the head, then the body in `pieces`, `gapMs` apart (stopping after `stopAfter` of them); resolves with what came back and when. */
  function upload(pieces: string[], gapMs: number, stopAfter = pieces.length): Promise<{ answer: string; ms: number }> {
    return new Promise((resolve) => {
      const socket = connect(Number(new URL(app.first.http).port), '127.0.0.1');
      const started = Date.now();
      let answer = '';
      let timer: NodeJS.Timeout | undefined;
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ answer, ms: Date.now() - started });
      });
      socket.on('connect', () => {
        socket.write(head);
        const next = (i: number) => {
          if (i >= stopAfter || socket.destroyed) return;
          socket.write(pieces[i]);
          timer = setTimeout(() => next(i + 1), gapMs);
        };
        next(0);
      });
    });
  }

  it('answers 408 and closes the socket when the body stops coming, long before the whole request is due', async () => {
    const { answer, ms } = await upload([body.slice(0, 5)], 0);
    const [status, json] = answer.split('\r\n\r\n');
    expect(status.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    // A page's upload: the answer carries the CORS headers the page needs to read it.
    expect(status).toMatch(/\r\naccess-control-allow-origin: http:\/\/localhost:5173\r\n/);
    expect(JSON.parse(json)).toEqual({ statusCode: 408, error: 'Request Timeout', message: 'The request body stopped coming' });
    expect(ms).toBeLessThan(5_000);
    await request(app.first.http).get('/health/live').expect(200);
  });

  it('lets a slow body that keeps coming finish, however long it takes in all', async () => {
    // A piece every 300 ms for about 4 s: four times the idle timeout in all, never 1 s without a byte.
    const pieces = Array.from({ length: 14 }, (_, i) => body.slice((i * body.length) / 14, ((i + 1) * body.length) / 14));
    const { answer, ms } = await upload(pieces, 300);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 201 Created');
    expect(ms).toBeGreaterThan(3_000);
  });
});

describe('smaller REST rules', () => {
  const app = useInstances();
  const bearer = (user: string, role?: string) => `Bearer ${token(user, { role })}`;

  it('sends no X-Powered-By', async () => {
    for (const path of ['/health/live', '/health/ready', ROOMS, '/nowhere']) {
      const response = await request(app.first.http).get(path).set('Authorization', bearer('alice'));
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('answers /health/ready with ready or not and why, without counts', async () => {
    const response = await request(app.first.http).get('/health/ready').expect(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('lets an owner who removed themselves add no one; a service token still may', async () => {
    const roomId = await createRoom(app.first.http, 'olivia', ['bob']);
    await request(app.first.http).delete(`${ROOMS}/${roomId}/members/olivia`).set('Authorization', bearer('olivia')).expect(204);
    const refused = await request(app.first.http)
      .post(`${ROOMS}/${roomId}/members`)
      .set('Authorization', bearer('olivia'))
      .send({ user_id: 'mallory' })
      .expect(403);
    expect(refused.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.any(String) });
    await request(app.first.http)
      .post(`${ROOMS}/${roomId}/members`)
      .set('Authorization', bearer('backend', 'service'))
      .send({ user_id: 'carol' })
      .expect(201);
    const members = await request(app.first.http).get(`${ROOMS}/${roomId}/members`).set('Authorization', bearer('bob')).expect(200);
    expect((members.body as Array<{ user_id: string }>).map((m) => m.user_id).sort()).toEqual(['bob', 'carol']);
  });
});
