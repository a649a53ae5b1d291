import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Settings } from '../config/settings.js';

/**
 * Bounds what slow or idle clients can hold: open sockets in all and per
 * client address (further ones are closed at once), and how long a request's
 * headers and the whole request may take. Node checks those timeouts every
 * `connectionsCheckingInterval` (30 s by default), so it is shortened too.
 * What Node's parser refuses before a request exists is answered as JSON.
 */
export function limitSockets(server: Server, http: Settings['http']): void {
  server.maxConnections = http.maxSockets;
  server.headersTimeout = http.headersTimeoutMs;
  server.requestTimeout = Math.max(http.requestTimeoutMs, http.headersTimeoutMs);
  // Read when the server starts listening; @types/node does not declare it.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(5_000, Math.max(250, Math.floor(http.headersTimeoutMs / 4)));
  if (http.maxSocketsPerAddress > 0) limitPerAddress(server, http.maxSocketsPerAddress);
  answerClientErrors(server);
}

/** One address may not take every socket of the process (idle ones included, until the header timeout). */
function limitPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) return void socket.destroy();
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

const REFUSED: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'The request line and headers are too large (a token travels best in a header, at most 16 KB in all)' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
};

/**
 * Node answers what its HTTP parser refuses (headers too large, a request too
 * slow, bytes that are not HTTP) with an empty body; these get the
 * `{statusCode, error, message}` of every other error. As Node does, nothing
 * is written once a response on the socket has begun: that would corrupt it.
 */
function answerClientErrors(server: Server): void {
  const answering = new WeakSet<Duplex>();
  server.on('request', (_request, response) => {
    const socket = response.socket;
    if (!socket) return;
    answering.add(socket);
    response.once('close', () => answering.delete(socket));
  });
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (socket.writable && !answering.has(socket) && error.code !== 'ECONNRESET') {
      const { status, message } = REFUSED[error.code ?? ''] ?? { status: 400, message: 'The request is not valid HTTP' };
      const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  });
}
