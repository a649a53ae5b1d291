import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Settings } from '../config/settings.js';
import { errorBody } from '../core/error-body.js';
import { clientOf } from './client-address.js';

/** Express's `trust proxy fn`: whether the address at `hop` (0: the socket's peer) is a trusted proxy. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Bounds what slow or idle clients can hold: open sockets in all and per
 * client address (further ones are closed at once), and how long a request's
 * headers and the whole request may take, and how long its body may stop
 * coming. Node checks its timeouts every `connectionsCheckingInterval` (30 s
 * by default), so it is shortened too. What Node's parser refuses before a
 * request is whole is answered as JSON; so is a request without a Host
 * header, which `requireHost` answers in Node's place.
 */
export function limitSockets(server: Server, http: Settings['http'], trusted: TrustProxy): void {
  server.maxConnections = http.maxSockets;
  server.headersTimeout = http.headersTimeoutMs;
  server.requestTimeout = Math.max(http.requestTimeoutMs, http.headersTimeoutMs);
  // Read when the server starts listening; @types/node does not declare it.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(5_000, Math.max(250, Math.floor(http.headersTimeoutMs / 4)));
  // Also read per request; Node's own answer to a request without Host has an empty body.
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  if (http.maxSocketsPerAddress > 0) limitPerAddress(server, http.maxSocketsPerAddress, trusted);
  answerClientErrors(server);
  answerUnservedRequests(server);
  limitIdleBodies(server, http.bodyIdleTimeoutMs);
}

/**
 * One client address (an IPv6 /64: `clientOf`) may not take every socket of
 * the process (idle ones included, until the header timeout). A trusted proxy's sockets (`TRUST_PROXY`) are
 * not counted: they carry every client behind it.
 */
function limitPerAddress(server: Server, max: number, trusted: TrustProxy): void {
  const logger = new Logger('HttpSockets');
  const open = new Map<string, number>();
  let loggedAt = 0;
  // One listener for every socket, not a closure each: idle connections are many. Node keeps a
  // socket's peer address once read, so it is still there at `close`.
  function release(this: Socket): void {
    const address = clientOf(this.remoteAddress);
    const left = (open.get(address) ?? 1) - 1;
    if (left > 0) open.set(address, left);
    else open.delete(address);
  }
  server.on('connection', (socket: Socket) => {
    if (socket.remoteAddress === undefined || trusted(socket.remoteAddress, 0)) return;
    const address = clientOf(socket.remoteAddress);
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      if (Date.now() - loggedAt >= 60_000) {
        loggedAt = Date.now();
        logger.warn(`Refused a socket from ${address}: it holds MAX_HTTP_SOCKETS_PER_ADDRESS=${max} already (once a minute at most)`);
      }
      return;
    }
    open.set(address, count);
    socket.on('close', release);
  });
}

/**
 * Express middleware, first of all: an HTTP/1.1 request must carry a Host
 * header (RFC 9112 §3.2; it may be empty), and is refused 400 without one, as
 * Node refuses it, but in the `{statusCode, error, message}` of every error. (An upgrade is checked with the rest of its handshake.)
 */
export function requireHost(request: Request, response: Response, next: NextFunction): void {
  if (request.headers.host !== undefined || request.httpVersionMajor !== 1 || request.httpVersionMinor !== 1) return next();
  response.set('Connection', 'close').status(400).json(errorBody(400, 'An HTTP/1.1 request must carry a Host header'));
}

const REFUSED: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'The request line and headers are too large (a token travels best in a header, at most 16 KB in all)' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, message: 'The chunk extensions of the request body are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
};

/**
 * Node answers what its HTTP parser refuses (headers too large, a request too
 * slow, bytes that are not HTTP) with an empty body; these get the
 * `{statusCode, error, message}` of every other error, when the error is the
 * request's in hand: a client reads the next answer on a socket as its next
 * request's. So nothing is written
 * - once the current answer has begun (as Node does: it would corrupt it);
 * - while the current request is whole and its answer pending: the error is
 *   a pipelined request's after it, and would be read as the earlier one's answer;
 * - after a whole answer to a request whose body had not all come: the
 *   error is that body's, which no one waits an answer for.
 * The socket's last response is kept from the public `request` event.
 */
function answerClientErrors(server: Server): void {
  const lastResponse = new WeakMap<Socket, ServerResponse>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => lastResponse.set(request.socket, response));
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    const last = lastResponse.get(socket);
    const ours = last === undefined || (last.writableEnded ? last.req.complete : !last.headersSent && !last.req.complete);
    if (ours && error.code !== 'ECONNRESET') {
      const { status, message } = REFUSED[error.code ?? ''] ?? { status: 400, message: 'The request is not valid HTTP' };
      writeErrorAnswer(socket, status, message);
    }
    socket.destroy(error);
  });
}

/**
 * Two requests Node answers itself without a body, or not at all: an
 * `Expect` other than `100-continue` (417) and `CONNECT` (closed without a
 * word). Both get the `{statusCode, error, message}` of every error.
 */
function answerUnservedRequests(server: Server): void {
  server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify(errorBody(417, 'Only Expect: 100-continue is supported'));
    response.writeHead(417, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
  });
  server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    writeErrorAnswer(socket, 405, 'CONNECT is not served here', { Allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' });
    socket.destroySoon();
  });
}

/**
 * A request's body that stops coming: no byte read for `idleMs`, checked every
 * `idleMs`, so it is cut between one and two of them. A socket not being read
 * is not the client's stall: the application paused the body, or Node paused
 * the socket while the client does not read the answers before it (pipelined).
 * Answered 408 when this request's answer is the socket's next and has not
 * begun (else a client would read it as another request's), and closed.
 */
function limitIdleBodies(server: Server, idleMs: number): void {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const { headers, socket } = request;
    if ((headers['content-length'] === undefined || headers['content-length'] === '0') && headers['transfer-encoding'] === undefined) return;
    let read = socket.bytesRead;
    const check = setInterval(() => {
      if (request.complete || socket.destroyed) return stop();
      if (socket.bytesRead !== read || socket.isPaused() || request.readableLength > 0) {
        read = socket.bytesRead;
        return;
      }
      stop();
      // The CORS headers already set for this answer go with it, so that a page can read it.
      if (response.socket === socket && !response.headersSent) writeErrorAnswer(socket, 408, 'The request body stopped coming', corsHeaders(response));
      socket.destroy();
    }, idleMs);
    check.unref();
    function stop(): void {
      clearInterval(check);
    }
    request.once('end', stop);
    response.once('close', stop);
  });
}

/** Writes a whole `{statusCode, error, message}` answer past Node's response object: the socket is closed next. */
function writeErrorAnswer(socket: Socket, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  if (!socket.writable) return;
  const body = JSON.stringify(errorBody(status, message));
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${String(value)}\r\n`)
    .join('');
  // Header values as Node writes them (one byte per character), the body as UTF-8.
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n`,
    'latin1',
  );
  socket.write(body);
}

/** The CORS middleware's headers on a response not yet sent (`Vary` with them: it names `Origin`). */
function corsHeaders(response: ServerResponse): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(response.getHeaders()).filter(([name]) => name.startsWith('access-control-') || name === 'vary'));
}
