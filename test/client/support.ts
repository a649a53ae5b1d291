// Small helpers of the client-library and browser suites: a real service on
// a chosen or free port, tokens, waiting for a condition.
import type { INestApplication } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createApp } from '../../src/app.factory.js';
import type { Environment } from '../../src/config/environment.js';

export const SECRET = 'client-test-secret-0123456789';
const jwt = new JwtService({ secret: SECRET });

export function signToken(sub: string, expiresInS = 3600): string {
  return jwt.sign({ sub, exp: Math.floor(Date.now() / 1000) + expiresInS }, { algorithm: 'HS256' });
}

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

export function uniquePrefix(): string {
  return `test:client:${randomUUID().slice(0, 8)}:`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Service {
  app: INestApplication;
  port: number;
  http: string;
  ws: string;
  close(): Promise<void>;
}

/** The real application on `port` (a free one by default). */
export async function startService(overrides: Environment = {}, port?: number): Promise<Service> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: SECRET, HEARTBEAT_INTERVAL_MS: 1000, ...overrides }, false);
  await app.listen(port ?? 0, '127.0.0.1');
  const bound = (app.getHttpServer().address() as { port: number }).port;
  return {
    app,
    port: bound,
    http: `http://127.0.0.1:${bound}`,
    ws: `ws://127.0.0.1:${bound}/api/v1/chats/ws`,
    close: () => app.close(),
  };
}

type Falsy = undefined | null | false | 0 | '';

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(probe: () => T | Falsy | Promise<T | Falsy>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Creates a room owned by `owner` with `members`, over REST. */
export async function createRoom(http: string, owner: string, members: string[], name = 'Test room'): Promise<string> {
  const response = await fetch(`${http}/api/v1/chats/rooms`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${signToken(owner)}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ room_type: 'team', room_name: name, member_ids: members }),
  });
  if (response.status !== 201) throw new Error(`room not created: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { room_id: string }).room_id;
}
