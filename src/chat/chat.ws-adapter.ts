import { INestApplication, Logger } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isObservable, lastValueFrom } from 'rxjs';
import { extension, PerMessageDeflate, WebSocketServer, type ExtensionParams, type PerMessageDeflateOptions, type RawData, type WebSocket } from 'ws';
import { AuthError } from '../auth/session.js';
import { ACCESS_TOKEN_PROTOCOL, TokenService } from '../auth/token.service.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { cutAt, inputProblem, isWellFormed } from '../core/text.js';
import { AppLogger } from '../logging/app-logger.js';
import type { UpgradeResult } from '../metrics/metric-labels.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection.registry.js';
import { ChatGateway } from './chat.gateway.js';
import { compileFrameHandlers, messagesOf, type FrameCaller } from './frame-handlers.js';
import { FrameMetrics, frameTypeLabel } from './frame-metrics.js';
import { CloseCode, type Reply } from './protocol.js';
import { logFailure, toErrorFrame } from './ws-error.filter.js';
import { WsJwtGuard } from './ws-jwt.guard.js';

/** A parsed client frame: a JSON object with a string `type`. */
type Frame = Record<string, unknown> & { type: string; ref?: string };

type ErrorFrame = Extract<Reply, { type: 'error' }>;

/** A frame ready for its handler (a `send_message` with the time it arrived), or the answer to a frame that cannot have one. */
type Parsed = { frame: Frame; receivedAt?: number } | { error: ErrorFrame; ref?: string };

/** Keys that could reach an object's prototype; dropped after parsing. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Any frame that could hold one of them (a JSON escape such as `\u005f` is always a backslash). */
const UNSAFE_KEY_PATTERN = /__proto__|constructor|prototype|\\/;

/**
 * Deletes every unsafe key, at any depth. JSON.parse makes `__proto__` an own
 * property like any other, so nothing is reached until something copies it;
 * this runs before anything does, on a frame `inputProblem` has bounded in
 * depth. (A reviver does the same at a call per value: 64 KiB of a long
 * array cost 9 ms with one, 0.7 ms without.)
 */
function dropUnsafeKeys(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) dropUnsafeKeys(item);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (UNSAFE_KEYS.has(key)) delete record[key];
    else dropUnsafeKeys(record[key]);
  }
}

/** A frame's size in bytes, whatever form `ws` hands it in. */
function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}

/**
 * Nest's `ws` adapter, made to speak PROTOCOL.md at the edge:
 * - the upgrade is authenticated before it is accepted, and refused with a
 *   plain HTTP answer and JSON body (404, 401, 403, 503);
 * - frames are parsed, checked for shape and rate, and dispatched by `type`
 *   one at a time per connection, so a client's frames take effect in order;
 * - handler results are written as the answer, carrying the frame's `ref`.
 */
export class ChatWsAdapter extends WsAdapter {
  private readonly log = new Logger(ChatWsAdapter.name);
  private readonly settings: Settings;
  private readonly tokens: TokenService;
  private readonly connections: ConnectionRegistry;
  private readonly guard: WsJwtGuard;
  private readonly frames: FrameMetrics;
  private readonly appLogger: AppLogger;
  private readonly upgradeListeners: Array<(req: IncomingMessage, socket: Duplex, head: Buffer) => void> = [];
  /** The permessage-deflate options the ws server negotiates with, or false when compression is off. */
  private deflate: PerMessageDeflateOptions | false = false;
  /** Each ChatGateway message with its plain caller (`compileFrameHandlers`), or undefined where it has none; built at the first connection. */
  private gatewayHandlers: Map<string, FrameCaller | undefined> | undefined;
  /** ChatGateway's callers when every handler has one: the table all its sockets share. */
  private sharedHandlers: Map<string, FrameCaller> | undefined;

  constructor(private readonly app: INestApplication) {
    super(app);
    this.settings = app.get(SETTINGS);
    this.tokens = app.get(TokenService);
    this.connections = app.get(ConnectionRegistry);
    this.guard = app.get(WsJwtGuard);
    this.frames = app.get(FrameMetrics);
    this.appLogger = app.get(AppLogger);
  }

  override create(): WebSocketServer {
    this.deflate = perMessageDeflate(this.settings.ws.deflate);
    const server = new WebSocketServer({
      noServer: true,
      maxPayload: this.settings.ws.maxPayloadBytes,
      perMessageDeflate: this.deflate,
      clientTracking: false,
      handleProtocols: (offered) => (offered.has(ACCESS_TOKEN_PROTOCOL) ? ACCESS_TOKEN_PROTOCOL : false),
    });
    server.on('error', (error) => this.log.error(error));
    // What ws refuses itself after our checks (a subprotocol list or an extension offer it cannot
    // parse) is answered like every malformed handshake; `upgrade` counts it (the socket never opened).
    server.on('wsClientError', (error: Error, socket: Duplex) => reject(socket, 400, 'bad_request', `The upgrade request is malformed: ${error.message}`));
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(server, req, socket, head);
    this.httpServer.on('upgrade', listener);
    this.upgradeListeners.push(listener);
    return server;
  }

  override async dispose(): Promise<void> {
    for (const listener of this.upgradeListeners) this.httpServer.off('upgrade', listener);
    this.upgradeListeners.length = 0;
  }

  override bindMessageHandlers(socket: WebSocket, handlers: MessageMappingProperties[]): void {
    const connection = this.connections.get(socket);
    if (!connection) return socket.terminate();
    // What these closures hold lives as long as the socket: a shared table, not one built per socket.
    const handle = this.handlersFor(handlers);
    socket.on('error', (error: Error & { code?: string }) => {
      // ws closes by itself on a frame it refuses: 1009 larger than maxPayload, 1007 text that is not UTF-8, 1002 the rest.
      // (1007 also for a compressed frame that does not inflate: zlib's Z_* codes).
      const code = error.code ?? '';
      const reason =
        code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_big' : code === 'WS_ERR_INVALID_UTF8' || code.startsWith('Z_') ? 'invalid_data' : code.startsWith('WS_ERR_') ? 'protocol_error' : undefined;
      if (reason) this.frames.closed(reason);
      this.appLogger.forConnection(connection.logFields, ChatWsAdapter.name).debug(`socket error: ${error.message}`);
    });
    /**
     * Frames not yet handled, oldest first; `draining` while one is being handled,
     * and until `connected` has gone out: it is the first frame the client gets.
     */
    const pending: Parsed[] = [];
    let draining = true;
    const drain = async () => {
      draining = true;
      for (let parsed = pending.shift(); parsed; parsed = pending.shift()) {
        try {
          if ('error' in parsed) this.refuse(connection, parsed.error, parsed.ref);
          else await this.dispatch(connection, parsed.frame, handle, parsed.receivedAt ?? 0);
        } catch (error) {
          this.log.error(error);
        }
      }
      draining = false;
    };
    connection.whenGreeted(() => void drain());
    socket.on('message', (data, isBinary) => {
      connection.lastSeenAt = Date.now();
      const now = performance.now();
      let verdict = connection.limiter.take(now, byteLength(data));
      if (verdict === 'abuse') return connection.close(CloseCode.policy, 'rate_limit_abuse');
      // Frames wait while earlier ones are handled; with a slow store, no more than a burst may.
      if (verdict === 'ok' && pending.length + (draining ? 1 : 0) >= this.settings.ws.rateLimit.burst) {
        verdict = connection.limiter.drop(now);
      }
      if (verdict !== 'ok') {
        this.frames.received('other', 'rate_limited');
        if (verdict === 'drop_and_tell') {
          connection.send({ type: 'error', code: 'rate_limited', message: 'Too many frames, or too many bytes of them; some were dropped' });
        }
        return;
      }
      // One loop per burst of frames rather than a chain of promises per frame; still one at a time, in order.
      const parsed = this.parse(data, isBinary);
      if ('frame' in parsed && parsed.frame.type === 'send_message') parsed.receivedAt = performance.now();
      pending.push(parsed);
      if (!draining) void drain();
    });
  }

  /** A ws socket emits `close` once: a plain listener spares the wrapper `once` would keep per socket. */
  override bindClientDisconnect(client: WebSocket, callback: (...args: unknown[]) => void): void {
    client.on('close', callback);
  }

  private parse(data: RawData, isBinary: boolean): Parsed {
    const invalid = (code: 'invalid_json' | 'invalid_frame', message: string, ref?: string) => ({
      error: { type: 'error' as const, code, message },
      ref,
    });
    if (isBinary) return invalid('invalid_frame', 'Binary frames are not accepted; send JSON text');
    let value: unknown;
    const text = data.toString();
    try {
      value = JSON.parse(text);
    } catch {
      return invalid('invalid_json', 'The frame is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return invalid('invalid_frame', 'A frame must be a JSON object');
    }
    const frame = value as Record<string, unknown>;
    const maxRef = this.settings.limits.maxRefLength;
    if (frame.ref !== undefined && (typeof frame.ref !== 'string' || frame.ref.length > maxRef)) {
      return invalid('invalid_frame', `ref must be a string of at most ${maxRef} characters`);
    }
    // Every frame, whatever its type and whether or not its handler takes a body: a ref is echoed,
    // a type quoted, so neither may carry text that cannot be written back.
    const problem = inputProblem(frame);
    if (problem !== undefined) return invalid('invalid_frame', problem, typeof frame.ref === 'string' && isWellFormed(frame.ref) ? frame.ref : undefined);
    if (typeof frame.type !== 'string') return invalid('invalid_frame', 'type must be a string', frame.ref as string | undefined);
    // Only frames that spell such a key need the walk.
    if (UNSAFE_KEY_PATTERN.test(text)) dropUnsafeKeys(frame);
    return { frame: frame as Frame };
  }

  private async dispatch(connection: Connection, frame: Frame, handle: Map<string, FrameCaller>, receivedAt: number): Promise<void> {
    const handler = handle.get(frame.type);
    if (!handler) {
      const type = cutAt(frame.type, 64);
      return this.refuse(connection, { type: 'error', code: 'unknown_type', message: `Unknown frame type "${type}"` }, frame.ref);
    }
    // WsJwtGuard's check for every handler, before its pipes; answered as WsErrorFilter would
    // (nothing when the registry no longer holds the connection).
    const current = this.connections.get(connection.socket);
    try {
      this.guard.check(current);
    } catch (error) {
      const answer = toErrorFrame(error, (failure) => logFailure(this.appLogger, ChatWsAdapter.name, current, failure, frame.type));
      current?.send(answer, frame.ref);
      return this.frames.received(frameTypeLabel(frame.type), answer.code);
    }
    try {
      // Handlers here answer with a value (or nothing); an Observable would still be waited for.
      let reply = await handler(connection.socket, frame, frame.type);
      if (isObservable(reply)) reply = await lastValueFrom(reply, { defaultValue: undefined });
      if (reply) connection.send(reply as Reply, frame.ref);
      this.frames.handled(frame);
      if (receivedAt && (reply as Reply | undefined)?.type === 'message_ack') this.frames.acked(receivedAt);
    } catch (error) {
      // Handler errors normally reach WsErrorFilter; this is the last resort.
      const answer = toErrorFrame(error, (failure) => logFailure(this.appLogger, ChatWsAdapter.name, connection, failure, frame.type));
      connection.send(answer, frame.ref);
      this.frames.received(frameTypeLabel(frame.type), answer.code);
    }
  }

  /**
   * How a socket's frames reach their handlers, by type. When every handler
   * is ChatGateway's with a plain caller (`compileFrameHandlers`), all sockets
   * share one table built at the first connection; otherwise the socket gets
   * its own, with Nest's callbacks (bound to it) where there is no caller.
   */
  private handlersFor(handlers: MessageMappingProperties[]): Map<string, FrameCaller> {
    if (!this.gatewayHandlers) {
      const gateway = this.app.get(ChatGateway);
      const config = this.app.get(ApplicationConfig);
      const globals = [config.getGlobalPipes(), config.getGlobalFilters(), config.getGlobalGuards(), config.getGlobalInterceptors()];
      const requestScoped = [config.getGlobalRequestPipes(), config.getGlobalRequestFilters(), config.getGlobalRequestGuards(), config.getGlobalRequestInterceptors()];
      // Global enhancers apply to every handler; the plain callers do not know them.
      const plain = [...globals, ...requestScoped].every((list) => list.length === 0);
      const callers = plain ? compileFrameHandlers(gateway, (type) => this.app.get(type, { strict: false })) : new Map<string, FrameCaller>();
      this.gatewayHandlers = new Map(messagesOf(gateway).map((message) => [message, callers.get(message)]));
      this.sharedHandlers = callers.size === this.gatewayHandlers.size ? callers : undefined;
    }
    const gateway = this.gatewayHandlers;
    const ours = handlers.length === gateway.size && handlers.every((handler) => gateway.has(handler.message as string));
    if (ours && this.sharedHandlers) return this.sharedHandlers;
    return new Map(
      handlers.map(({ message, callback }): [string, FrameCaller] => [
        message as string,
        (ours ? gateway.get(message as string) : undefined) ?? (async (_socket, frame, pattern) => callback(frame, pattern)),
      ]),
    );
  }

  /** Answers a frame that reached no handler (not understood, or of no known type) with its error. */
  private refuse(connection: Connection, error: ErrorFrame, ref: string | undefined): void {
    connection.send(error, ref);
    this.frames.received('other', error.code);
  }

  private async upgrade(server: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', destroySocket);
    let reserved: { userId: string; slot: string } | undefined;
    try {
      // The path is compared as written: parsing a hostile request line as a URL can throw with the
      // whole line (query token included) in the message.
      const url = req.url ?? '/';
      const query = url.indexOf('?');
      const path = query >= 0 ? url.slice(0, query) : url;
      if (path !== this.settings.ws.path) return this.reject(socket, 404, 'not_found', 'No WebSocket endpoint here');
      const malformed = handshakeProblem(req);
      if (malformed) return this.reject(socket, 400, 'bad_request', `The upgrade request is malformed: ${malformed}`);
      if (this.deflate) keepAcceptableOffers(req, this.deflate);
      this.connections.assertAdmissible();
      // The draft RFC 6455 still accepts (version 8) sends its origin as Sec-WebSocket-Origin.
      if (!this.tokens.originAllowed(req.headers.origin) || !this.tokens.originAllowed(req.headers['sec-websocket-origin'] as string | undefined)) {
        throw new AuthError(403, 'origin_not_allowed', 'This Origin is not allowed');
      }
      const session = this.tokens.verify(this.tokens.fromUpgrade(req));
      this.connections.assertAdmissible(session.userId);
      reserved = { userId: session.userId, slot: await this.connections.reserve(session.userId) };
      // Checked again: the instance may have started draining, or the client gone, while the slot was counted.
      this.connections.assertAdmissible(session.userId);
      if (socket.destroyed) return this.connections.release(reserved.userId, reserved.slot);
      const { slot } = reserved;
      let opened = false;
      server.handleUpgrade(req, socket, head, (ws) => {
        opened = true;
        this.frames.upgrade('accepted');
        const connection = this.connections.open(ws, session, slot);
        this.appLogger.forConnection(connection.logFields, ChatWsAdapter.name).debug('connection opened');
        server.emit('connection', ws, req);
      });
      // ws answers an invalid handshake itself (400) without calling back; it never calls back later.
      if (!opened) {
        this.connections.release(reserved.userId, slot);
        this.frames.upgrade('bad_request');
      }
    } catch (error) {
      if (reserved) this.connections.release(reserved.userId, reserved.slot);
      if (error instanceof AuthError) return this.reject(socket, error.status, error.code, error.message, error.userLimit ? 'user_limit' : error.code);
      // Never the error itself: its message or stack may quote the request line or a header, token included.
      this.log.debug(`upgrade refused as malformed (${error instanceof Error ? error.name : typeof error})`);
      this.reject(socket, 400, 'bad_request', 'The upgrade request is malformed');
    }
  }

  /** Refuses the upgrade with `code` on the wire; `result` is what the metrics count (`user_limit` is `unavailable` on the wire). */
  private reject(socket: Duplex, status: number, code: UpgradeResult, message: string, result: UpgradeResult = code): void {
    this.frames.upgrade(result);
    reject(socket, status, code, message);
  }
}

/** The ws server's permessage-deflate option: off, or on with bounded memory (PROTOCOL §1). */
function perMessageDeflate(deflate: Settings['ws']['deflate']): PerMessageDeflateOptions | false {
  if (!deflate.enabled) return false;
  return {
    threshold: deflate.thresholdBytes,
    concurrencyLimit: deflate.concurrency,
    // Without context takeover a socket's compressor keeps no history between
    // messages; with a small window and memLevel its memory stays small. The
    // client's window is left to the client: requiring one refuses offers
    // that do not name it.
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: deflate.windowBits,
    zlibDeflateOptions: { memLevel: deflate.memLevel },
  };
}

/**
 * RFC 7692 §7: a server declines a permessage-deflate offer it cannot accept
 * (a parameter unknown, repeated or out of range, a window smaller than its
 * own) and goes on without compression, where ws refuses the handshake. So
 * ws is shown only the offers it accepts, or none. A header that does not
 * parse is left for ws to refuse (400). Offers are tried one by one only
 * when the whole list fails, and only the first `MAX_DEFLATE_OFFERS` (a
 * client sends one or two): the rest are declined.
 */
function keepAcceptableOffers(req: IncomingMessage, options: PerMessageDeflateOptions): void {
  const header = req.headers['sec-websocket-extensions'];
  if (header === undefined) return;
  let offers: ReturnType<typeof extension.parse>;
  try {
    offers = extension.parse(header);
  } catch {
    return;
  }
  const deflate = offers[PerMessageDeflate.extensionName];
  if (deflate === undefined || acceptsOne(deflate, options)) return;
  const acceptable = deflate.slice(0, MAX_DEFLATE_OFFERS).filter((offer) => acceptsOne([offer], options));
  if (acceptable.length > 0) req.headers['sec-websocket-extensions'] = extension.format({ [PerMessageDeflate.extensionName]: acceptable });
  else delete req.headers['sec-websocket-extensions'];
}

const MAX_DEFLATE_OFFERS = 16;

/** Whether ws would accept one of these offers (it takes the first it can). */
function acceptsOne(offers: ExtensionParams[], options: PerMessageDeflateOptions): boolean {
  try {
    // `accept` rewrites the parameters it is given: a copy.
    new PerMessageDeflate({ ...options, isServer: true }).accept(structuredClone(offers));
    return true;
  } catch {
    return false;
  }
}

/** What RFC 6455 requires of an opening handshake (what `ws` checks): a key of 16 bytes in base64, version 13 (or draft 8). */
const HANDSHAKE_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * What is wrong with an upgrade request as a WebSocket handshake, or
 * undefined: checked before `ws` sees it, so the answer is this protocol's
 * JSON 400 rather than `ws`'s plain-text one.
 */
function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'the method must be GET';
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return 'the request must be HTTP/1.1 or later';
  if (req.headers.host === undefined) return 'the Host header is required';
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 'the Upgrade header must be websocket';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !HANDSHAKE_KEY.test(key.trim())) return 'Sec-WebSocket-Key must be 16 bytes in base64';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'Sec-WebSocket-Version must be 13 (or 8)';
  return undefined;
}

/** A socket's error before it is a WebSocket: a listener sharing no closure with the upgrade, which would keep its request. */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * Answers a refused upgrade with a plain HTTP response, never a half-open
 * socket: once the answer is written the socket is destroyed, since a client
 * that keeps its half open would otherwise hold it for good (the HTTP
 * server's timeouts no longer apply after an upgrade).
 */
function reject(socket: Duplex, status: number, error: string, message: string): void {
  const body = JSON.stringify({ error, message });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[
    status
  ];
  socket.once('finish', destroySocket);
  socket.end(
    `HTTP/1.1 ${status} ${reason ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
