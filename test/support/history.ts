import request from 'supertest';
import type { Message } from '../../src/chat/protocol.js';
import type { Environment } from '../../src/config/environment.js';
import { startApp, type RunningApp } from './app.js';
import { redisUrl, uniquePrefix } from './redis.js';
import { createRoom } from './rest.js';
import { token } from './tokens.js';
import { TestClient, type Frame } from './ws-client.js';

export type { Message };
export type Mode = 'embedded' | 'redis';
export const MODES: Mode[] = ['embedded', 'redis'];

/** Rate limits out of the way, for tests that send quickly on purpose. */
export const UNTHROTTLED: Environment = { RATE_LIMIT_PER_SECOND: 10_000, RATE_LIMIT_BURST: 100_000 };

/** Every field of a message as FocusMate reads it (PROTOCOL §3). */
export const MESSAGE_FIELDS = [
  'attachments',
  'client_msg_id',
  'content',
  'created_at',
  'is_deleted',
  'is_edited',
  'message_id',
  'message_type',
  'parent_message_id',
  'reactions',
  'room_id',
  'sender_id',
  'seq',
  'thread_count',
  'updated_at',
];

/** A Redis URL and a key prefix of its own: instances started with the same env share one history. */
export async function redisEnv(): Promise<Environment> {
  return { REDIS_URL: await redisUrl(), REDIS_KEY_PREFIX: uniquePrefix() };
}

export interface Cluster {
  /** One app when embedded; `instances` apps sharing one Redis prefix otherwise. */
  readonly apps: RunningApp[];
  readonly first: RunningApp;
  /** The last instance: another instance than `first` on Redis, the same app when embedded. */
  readonly last: RunningApp;
  /** A client of `user` on `app` (default `first`), closed after the current test. */
  connect(user: string, app?: RunningApp): Promise<TestClient>;
  room(owner: string, members: string[]): Promise<string>;
}

/** Starts the apps of one mode for the enclosing `describe`. */
export function useCluster(mode: Mode, overrides: Environment = {}, instances = 2): Cluster {
  const apps: RunningApp[] = [];
  const clients: TestClient[] = [];
  beforeAll(async () => {
    const env = mode === 'redis' ? { ...(await redisEnv()), ...overrides } : overrides;
    apps.push(...(await Promise.all(Array.from({ length: mode === 'redis' ? instances : 1 }, () => startApp(env)))));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  return {
    apps,
    get first() {
      return apps[0];
    },
    get last() {
      return apps[apps.length - 1];
    },
    async connect(user, app = apps[0]) {
      const client = await TestClient.connect(app.ws, token(user));
      clients.push(client);
      return client;
    },
    room: (owner, members) => createRoom(apps[0].http, owner, members),
  };
}

export const messagesPath = (roomId: string, messageId?: string): string =>
  `/api/v1/chats/rooms/${roomId}/messages${messageId === undefined ? '' : `/${messageId}`}`;

export const bearer = (user: string): [string, string] => ['Authorization', `Bearer ${token(user)}`];

/** Sends over REST as `user` and returns the stored message. */
export async function post(http: string, roomId: string, user: string, content: string, extra: object = {}): Promise<Message> {
  const response = await request(http)
    .post(messagesPath(roomId))
    .set(...bearer(user))
    .send({ content, ...extra })
    .expect(201);
  return response.body as Message;
}

/** The room's whole retained history, oldest first, read page by page over REST. */
export async function fullHistory(http: string, roomId: string, user: string): Promise<Message[]> {
  const pages: Message[][] = [];
  let before: string | undefined;
  for (;;) {
    const response = await request(http)
      .get(messagesPath(roomId))
      .query(before === undefined ? { limit: 100 } : { limit: 100, before_message_id: before })
      .set(...bearer(user))
      .expect(200);
    const page = response.body as { messages: Message[]; has_more: boolean };
    pages.unshift(page.messages);
    if (!page.has_more || page.messages.length === 0) return pages.flat();
    before = page.messages[0].message_id;
  }
}

/** Joins `roomId`, with `since` when given, and returns the `joined` answer. */
export async function joinRoom(client: TestClient, roomId: string, since?: { seq: number; epoch: string }): Promise<Frame> {
  client.send(since ? { type: 'join_room', room_id: roomId, since } : { type: 'join_room', room_id: roomId });
  const joined = await client.next('joined');
  if (joined.room_id !== roomId) throw new Error(`joined the wrong room: ${JSON.stringify(joined)}`);
  return joined;
}

/** Consumes `message` frames until one with `seq` (or later) arrives; returns them all. */
export async function messagesUntil(client: TestClient, seq: number, timeoutMs = 5000): Promise<Message[]> {
  const seen: Message[] = [];
  while ((seen.at(-1)?.seq ?? -1) < seq) seen.push((await client.next('message', timeoutMs)).message as Message);
  return seen;
}

/** Every `message` this socket received, in arrival order, consumed or not. */
export function received(client: TestClient): Message[] {
  return client.frames.filter((frame) => frame.type === 'message').map((frame) => frame.message as Message);
}

/** Sends `count` messages over the socket at once and waits for their acks. */
export async function sendMany(client: TestClient, roomId: string, count: number, label = 'm'): Promise<Message[]> {
  for (let i = 0; i < count; i++) client.send({ type: 'send_message', room_id: roomId, content: `${label}-${i}` });
  const acks: Message[] = [];
  for (let i = 0; i < count; i++) acks.push((await client.next('message_ack')).message as Message);
  return acks;
}

export const seqs = (messages: Message[]): number[] => messages.map((m) => m.seq ?? -1);
export const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
