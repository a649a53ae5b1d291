// A small HTTP and WebSocket proxy for the browser suites: it sends each
// request to the first backend that accepts a connection (so a killed
// instance's traffic goes to the next), and can refuse WebSocket upgrades
// for a while, cutting the open ones, while pages still load.
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface TestProxy {
  url: string;
  /** Cuts every WebSocket and refuses new upgrades (503) until `unblock()`. */
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function startProxy(backends: number[]): Promise<TestProxy> {
  let blocked = false;
  const tunnels = new Set<Duplex>();

  /** Connects to the first backend that answers, in order. */
  const reach = (index = 0): Promise<{ socket: Socket; port: number }> =>
    new Promise((resolve, reject) => {
      if (index >= backends.length) return reject(new Error('no backend answers'));
      const socket = connect(backends[index], '127.0.0.1');
      socket.once('connect', () => resolve({ socket, port: backends[index] }));
      socket.once('error', () => reach(index + 1).then(resolve, reject));
    });

  const head = (req: IncomingMessage) => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  };

  const server = createServer((req, res) => {
    reach().then(
      ({ socket, port }) => {
        socket.destroy();
        const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      },
      () => res.writeHead(502).end(),
    );
  });
  server.on('upgrade', (req, client, rest) => {
    if (blocked) return client.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    client.on('error', () => client.destroy());
    reach().then(
      ({ socket }) => {
        tunnels.add(client);
        socket.write(head(req));
        if (rest.length > 0) socket.write(rest);
        socket.pipe(client).pipe(socket);
        const end = () => {
          tunnels.delete(client);
          client.destroy();
          socket.destroy();
        };
        socket.on('close', end);
        socket.on('error', end);
        client.on('close', end);
      },
      () => client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    block() {
      blocked = true;
      for (const tunnel of tunnels) tunnel.destroy();
    },
    unblock() {
      blocked = false;
    },
    close() {
      for (const tunnel of tunnels) tunnel.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
