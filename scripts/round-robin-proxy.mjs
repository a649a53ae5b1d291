// A small reverse proxy for `npm run staging:local`, standing in for nginx's
// upstream in deploy/nginx.conf: each HTTP request and each WebSocket upgrade
// goes to the next backend in turn. For local use: no retries, no health checks.
import { createServer, request } from 'node:http';
import { connect } from 'node:net';

/** Headers that describe one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/** X-Forwarded-For with the client's address appended, as nginx's $proxy_add_x_forwarded_for. */
function forwardedFor(req) {
  const previous = req.headers['x-forwarded-for'];
  return previous ? `${previous}, ${req.socket.remoteAddress}` : req.socket.remoteAddress;
}

/**
 * Starts the proxy on `host:port` (port 0 picks a free one).
 * @param {{ backends: { host: string, port: number }[], port?: number, host?: string }} options
 * `close()` stops accepting and resolves once open requests and WebSocket
 * tunnels have ended (a draining backend closes its sockets, e.g. with 1012);
 * `destroy()` cuts them now.
 * @returns {Promise<{ port: number, close(): Promise<void>, destroy(): Promise<void> }>}
 */
export async function startRoundRobinProxy({ backends, port = 0, host = '127.0.0.1' }) {
  if (backends.length === 0) throw new Error('startRoundRobinProxy needs at least one backend');
  let turn = 0;
  const pick = () => backends[turn++ % backends.length];
  const tunnels = new Set();

  const server = createServer((req, res) => {
    const backend = pick();
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    headers['x-forwarded-for'] = forwardedFor(req);
    headers['x-forwarded-proto'] = 'http';
    const upstream = request({ ...backend, method: req.method, path: req.url, headers }, (reply) => {
      const replyHeaders = Object.fromEntries(Object.entries(reply.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
      res.writeHead(reply.statusCode ?? 502, reply.statusMessage, replyHeaders);
      reply.pipe(res);
    });
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });

  // The handshake is replayed to the backend as received; after its 101 the
  // two sockets are piped together and the proxy no longer looks at the bytes.
  server.on('upgrade', (req, socket, head) => {
    const backend = pick();
    const upstream = connect(backend.port, backend.host);
    tunnels.add(socket);
    socket.on('close', () => {
      tunnels.delete(socket);
      upstream.destroy();
    });
    socket.on('error', () => upstream.destroy());
    let connected = false;
    upstream.on('error', () => {
      if (!connected) socket.end(BAD_GATEWAY);
    });
    upstream.on('close', () => {
      if (connected) socket.destroy();
    });
    upstream.on('connect', () => {
      connected = true;
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i].toLowerCase() !== 'x-forwarded-for') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      lines.push(`X-Forwarded-For: ${forwardedFor(req)}`, 'X-Forwarded-Proto: http');
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  let closed;
  const close = () => {
    closed ??= new Promise((resolve) => server.close(() => resolve(undefined)));
    server.closeIdleConnections();
    return closed;
  };
  return {
    port: server.address().port,
    close,
    destroy: () => {
      const done = close();
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
      return done;
    },
  };
}
