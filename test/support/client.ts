import WebSocket from 'ws';
import { waitFor } from '../../scripts/processes.mjs';
import type { Message } from '../../src/chat/protocol.js';
import { ANSWER_TIMEOUT_MS, type Frame, type TestClient } from './ws-client.js';

/** Joins `roomId`, with `since` when given, and returns the `joined` answer. */
export async function join(client: TestClient, roomId: string, since?: { seq: number; epoch: string }): Promise<Frame> {
  client.send(since ? { type: 'join_room', room_id: roomId, since } : { type: 'join_room', room_id: roomId });
  const joined = await client.next('joined');
  if (joined.room_id !== roomId) throw new Error(`joined the wrong room: ${JSON.stringify(joined)}`);
  return joined;
}

let refs = 0;

/**
 * Sends `frame` with a fresh `ref` and returns the one frame that answers it
 * (any type: the answer or an `error`), consumed along with earlier frames of its type.
 */
export async function ask(client: TestClient, frame: Record<string, unknown>, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Frame> {
  const ref = `ask-${++refs}`;
  client.send({ ...frame, ref });
  const answer = await waitFor(() => client.frames.find((f) => f.ref === ref), timeoutMs, `an answer to ${String(frame.type)}`, 10);
  client.consumeThrough(answer);
  return answer;
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

/** The messages of the next `count` `message` frames, in arrival order. */
export async function nextMessages(client: TestClient, count: number, timeoutMs = 5000): Promise<Message[]> {
  return (await collect(client, 'message', count, timeoutMs)).map((frame) => frame.message as Message);
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
