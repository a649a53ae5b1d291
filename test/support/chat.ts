import WebSocket from 'ws';
import type { Environment } from '../../src/config/environment.js';
import { startApp, type RunningApp } from './app.js';
import { createRoom } from './rest.js';
import { token } from './tokens.js';
import { TestClient, type Frame } from './ws-client.js';

export interface ChatSuite {
  readonly http: string;
  readonly ws: string;
  /** A client of `user`, closed after the current test. */
  connect(user: string): Promise<TestClient>;
  room(owner: string, members: string[], roomType?: string): Promise<string>;
}

/** One app for the enclosing `describe`; clients opened through it are closed after each test. */
export function useChatApp(overrides: Environment = {}): ChatSuite {
  let running: RunningApp | undefined;
  const clients: TestClient[] = [];
  const app = (): RunningApp => {
    if (!running) throw new Error('The app is not started yet');
    return running;
  };
  beforeAll(async () => {
    running = await startApp(overrides);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await running?.close();
  });
  return {
    get http() {
      return app().http;
    },
    get ws() {
      return app().ws;
    },
    async connect(user) {
      const client = await TestClient.connect(app().ws, token(user));
      clients.push(client);
      return client;
    },
    room: (owner, members, roomType) => createRoom(app().http, owner, members, roomType),
  };
}

/** Joins `roomId` and returns the `joined` answer. */
export async function join(client: TestClient, roomId: string): Promise<Frame> {
  client.send({ type: 'join_room', room_id: roomId });
  const joined = await client.next('joined');
  expect(joined.room_id).toBe(roomId);
  return joined;
}

let probes = 0;

/**
 * Sends `raw` as is (a Buffer as a binary frame), then a ping; returns every
 * frame written between them. A connection answers its frames in order, so
 * these are exactly the answers to `raw`, and the pong proves the socket is
 * still open and served.
 */
export async function answersTo(client: TestClient, raw: string | Buffer): Promise<Frame[]> {
  const start = client.frames.length;
  if (typeof raw === 'string') client.socket.send(raw);
  else client.socket.send(raw, { binary: true });
  const ref = `probe-${++probes}`;
  client.send({ type: 'ping', ref });
  let pong: Frame;
  do {
    pong = await client.next('pong');
  } while (pong.ref !== ref);
  const answers = client.frames.slice(start, client.frames.indexOf(pong));
  for (const type of new Set(answers.map((frame) => frame.type))) client.take(type);
  expect(client.socket.readyState).toBe(WebSocket.OPEN);
  return answers;
}

/** Asserts the client is open and answered: a ping gets its pong. */
export async function expectServed(client: TestClient): Promise<void> {
  expect(await answersTo(client, JSON.stringify({ type: 'ping', ref: 'served' }))).toEqual([
    { type: 'pong', ref: 'served' },
  ]);
}

/** The next `count` frames of `type`, in arrival order. */
export async function collect(client: TestClient, type: string, count: number, timeoutMs = 5000): Promise<Frame[]> {
  const frames: Frame[] = [];
  while (frames.length < count) frames.push(await client.next(type, timeoutMs));
  return frames;
}

export const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Message of PROTOCOL §3 for `toEqual`, with `fields` pinned. */
export const messageShape = (fields: Record<string, unknown>): Record<string, unknown> => ({
  message_id: expect.stringMatching(UUID),
  room_id: expect.any(String),
  sender_id: expect.any(String),
  seq: expect.any(Number),
  message_type: 'text',
  content: expect.any(String),
  attachments: null,
  parent_message_id: null,
  thread_count: 0,
  reactions: [],
  is_edited: false,
  is_deleted: false,
  created_at: expect.stringMatching(ISO_DATE),
  updated_at: expect.stringMatching(ISO_DATE),
  client_msg_id: null,
  ...fields,
});
