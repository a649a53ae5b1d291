import { jest } from '@jest/globals';
import { Logger, type INestApplication } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import WebSocket from 'ws';
import { createApp } from '../src/app.factory.js';
import type { Environment } from '../src/config/environment.js';
import { AppLogger } from '../src/logging/app-logger.js';
import { PresenceService } from '../src/presence/presence.service.js';
import { ask } from './support/client.js';
import { TestClient } from './support/ws-client.js';

const SECRET = 'logging-test-secret-0123456789';
const jwt = new JwtService({ secret: SECRET });
const now = () => Math.floor(Date.now() / 1000);
const VALID = jwt.sign({ sub: 'alice', exp: now() + 3600 }, { algorithm: 'HS256' });
const EXPIRED = jwt.sign({ sub: 'alice', exp: now() - 3600 }, { algorithm: 'HS256' });
const FORGED = jwt.sign({ sub: 'mallory', exp: now() + 3600 }, { algorithm: 'HS256', secret: 'another-secret-0123456789' });
const OPAQUE = 'opaque-credential-4f1c9a';
/** Strings that must not appear in any log line, whole or as their signature. */
const SECRETS = [VALID, EXPIRED, FORGED, OPAQUE, ...[VALID, EXPIRED, FORGED].map((t) => t.split('.')[2])];

/** Everything written to stdout while `work` runs, one entry per line. */
async function captureStdout(work: () => Promise<void>): Promise<string[]> {
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  }) as typeof process.stdout.write;
  try {
    await work();
  } finally {
    process.stdout.write = write;
  }
  return written.join('').split('\n').filter((line) => line.length > 0);
}

async function start(overrides: Environment): Promise<{ app: INestApplication; base: string }> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: SECRET, ...overrides });
  await app.listen(0, '127.0.0.1');
  return { app, base: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

/** Opens a socket with `url` and resolves when it is settled (refused, or connected and closed again). */
function tryConnect(url: string, protocols?: string[], headers?: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, protocols, { headers });
    socket.on('message', () => socket.close());
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
}

/** Connects, then sends a frame over the size limit: the server closes with 1009 and logs a socket error. */
function sendOversize(url: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.once('message', () => socket.send('x'.repeat(70_000)));
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
}

/** Drives every path that handles a token or a URL, and logs hostile values through the app's loggers. */
async function exercise(app: INestApplication, base: string): Promise<void> {
  const ws = `${base.replace('http', 'ws')}/api/v1/chats/ws`;
  await tryConnect(`${ws}?token=${VALID}`);
  await tryConnect(`${ws}?token=${EXPIRED}`);
  await tryConnect(`${ws}?token=${FORGED}`);
  await tryConnect(`${ws}?token=${OPAQUE}`);
  await tryConnect(ws, ['access_token', FORGED]);
  await tryConnect(ws, undefined, { authorization: `Bearer ${OPAQUE}` });
  // Accepted connections, the token in each carrier: their lines name the connection, never the token.
  await tryConnect(ws, ['access_token', VALID]);
  await tryConnect(ws, undefined, { authorization: `Bearer ${VALID}` });
  await sendOversize(`${ws}?token=${VALID}`);
  await fetch(`${base}/api/v1/chats/rooms`, { headers: { authorization: `Bearer ${EXPIRED}` } });
  await fetch(`${base}/api/v1/chats/rooms?token=${OPAQUE}`, { headers: { authorization: `Bearer ${FORGED}` } });
  await fetch(`${base}/api/v1/chats/rooms/x/messages?limit=abc`, { headers: { authorization: `Bearer ${VALID}` } });

  const logger = new Logger('LoggingTest');
  logger.log(`upgrade of ${ws}?token=${VALID} refused`);
  logger.warn({ url: `/api/v1/chats/ws?token=${OPAQUE}`, headers: { Authorization: `Bearer ${OPAQUE}`, 'sec-websocket-protocol': `access_token, ${OPAQUE}` } });
  logger.error(new Error(`could not verify ${FORGED} from ws://h/api/v1/chats/ws?token=${OPAQUE}`));
  logger.error(`failed: Bearer ${OPAQUE}`, new Error(`at ?token=${OPAQUE}`).stack);
  logger.debug({ token: OPAQUE, nested: { refresh: { token: VALID } } }, 'a debug line');
  logger.error(Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { command: { name: 'hget', args: ['chat:{r}:members', 'what-a-user-wrote'] } }));
  // A frame whose handling fails unexpectedly: its line names the connection and carries the error.
  const presence = app.get(PresenceService);
  jest.spyOn(presence, 'typing').mockRejectedValueOnce(new Error(`typing broke at ?token=${OPAQUE}`));
  const created = await fetch(`${base}/api/v1/chats/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${VALID}`, 'content-type': 'application/json' },
    body: JSON.stringify({ room_type: 'team', room_name: 'logging', member_ids: [] }),
  });
  const roomId = ((await created.json()) as { room_id: string }).room_id;
  const client = await TestClient.connect(ws, VALID);
  await ask(client, { type: 'join_room', room_id: roomId });
  expect(await ask(client, { type: 'typing', room_id: roomId })).toMatchObject({ type: 'error', code: 'internal_error' });
  await client.close();
  const connection = app.get(AppLogger).forConnection({ connection_id: 'c-1', user_id: 'alice' }, 'Connection');
  connection.info({ frame: { type: 'refresh_token', token: VALID } }, 'refresh_token received');
  connection.warn(`closing; the client sent ${OPAQUE.replace(OPAQUE, `token=${OPAQUE}`)}`);
}

describe('logging', () => {
  it('writes one JSON object per line, at the configured level, with no token, query string or Authorization value', async () => {
    const lines = await captureStdout(async () => {
      const { app, base } = await start({ LOG_FORMAT: 'json', LOG_LEVEL: 'debug' });
      await exercise(app, base);
      await app.close();
    });
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    for (const entry of entries) {
      expect(entry).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String) }));
    }
    for (const secret of SECRETS) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
    expect(lines.filter((line) => /[?&](token|limit)=(?!\[redacted\])/.test(line))).toEqual([]);
    // The hostile lines did arrive, scrubbed.
    expect(entries).toContainEqual(expect.objectContaining({ level: 'info', context: 'LoggingTest', msg: expect.stringContaining('/api/v1/chats/ws?[redacted] refused') }));
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'warn', headers: { Authorization: '[redacted]', 'sec-websocket-protocol': '[redacted]' } }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ level: 'error', err: expect.objectContaining({ stack: expect.stringContaining('[redacted]') }) }));
    expect(entries).toContainEqual(expect.objectContaining({ level: 'debug', token: '[redacted]', msg: 'a debug line' }));
    expect(entries).toContainEqual(
      expect.objectContaining({ connection_id: 'c-1', user_id: 'alice', context: 'Connection', frame: { type: 'refresh_token', token: '[redacted]' } }),
    );
    // Lines about a connection name it and its user.
    const opened = entries.filter((entry) => entry.msg === 'connection opened');
    expect(opened.length).toBeGreaterThanOrEqual(4);
    for (const entry of opened) {
      expect(entry).toEqual(expect.objectContaining({ context: 'ChatWsAdapter', connection_id: expect.any(String), user_id: 'alice' }));
    }
    expect(entries).toContainEqual(
      expect.objectContaining({ context: 'ChatWsAdapter', msg: expect.stringMatching(/^socket error: /), connection_id: expect.any(String), user_id: 'alice' }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ context: 'ChatGateway', msg: 'connection closed', user_id: 'alice' }));
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'a frame could not be handled',
        frame_type: 'typing',
        connection_id: expect.any(String),
        user_id: 'alice',
        err: expect.objectContaining({ type: 'Error', message: expect.stringContaining('typing broke at'), stack: expect.any(String) }),
      }),
    );
    // A Redis error keeps its command's name, not its arguments.
    expect(entries).toContainEqual(expect.objectContaining({ level: 'error', err: expect.objectContaining({ command: { name: 'hget' } }) }));
    expect(lines.filter((line) => line.includes('what-a-user-wrote'))).toEqual([]);
    // Nest's module wiring is there, at debug only.
    const wiring = entries.filter((entry) => entry.context === 'InstanceLoader');
    expect(wiring.length).toBeGreaterThan(0);
    expect(wiring.every((entry) => entry.level === 'debug')).toBe(true);
  });

  it('leaves out what is below LOG_LEVEL, the wiring lines included at info', async () => {
    const lines = await captureStdout(async () => {
      const { app, base } = await start({ LOG_FORMAT: 'json', LOG_LEVEL: 'info' });
      await exercise(app, base);
      await app.close();
    });
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((entry) => entry.level === 'debug' || entry.level === 'trace')).toEqual([]);
    expect(entries.filter((entry) => ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(entry.context as string))).toEqual([]);

    const warnOnly = await captureStdout(async () => {
      const { app, base } = await start({ LOG_FORMAT: 'json', LOG_LEVEL: 'warn' });
      await exercise(app, base);
      await app.close();
    });
    expect(warnOnly.map((line) => (JSON.parse(line) as { level: string }).level).filter((level) => !['warn', 'error', 'fatal'].includes(level))).toEqual([]);
  });

  it('writes readable lines with LOG_FORMAT=pretty, scrubbed the same way', async () => {
    const lines = await captureStdout(async () => {
      const { app, base } = await start({ LOG_FORMAT: 'pretty', LOG_LEVEL: 'debug' });
      await exercise(app, base);
      await app.close();
    });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.startsWith('{'))).toBe(false);
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[LoggingTest\] upgrade of ws:\/\/.*\?\[redacted\] refused$/));
    expect(lines).toContainEqual(expect.stringMatching(/\[Connection\] refresh_token received connection_id=c-1 user_id=alice/));
    for (const secret of SECRETS) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});
