// What the real service does not do on purpose (skip a seq, stop answering),
// played by a small scripted server over a real socket.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import WebSocket from 'ws';
import { ChatClient, type Message, type SocketFactory } from '../../client/src/index.js';
import { token } from '../support/tokens.js';
import { waitFor } from './support.js';

interface Script {
  url: string;
  /** Frames each connection sent, parsed, by connection index. */
  received: Array<Array<Record<string, unknown>>>;
  sockets: ServerSocket[];
  close(): Promise<void>;
}

async function scriptedServer(onFrame: (socket: ServerSocket, frame: Record<string, unknown>, index: number) => void): Promise<Script> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'access_token' });
  await new Promise((resolve) => server.once('listening', resolve));
  const script: Script = {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/chats/ws`,
    received: [],
    sockets: [],
    close: () => {
      for (const socket of script.sockets) socket.terminate();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (socket) => {
    const index = script.sockets.push(socket) - 1;
    script.received.push([]);
    socket.send(JSON.stringify({ type: 'connected', user_id: 'alice', connection_id: `c${index}`, heartbeat_interval_ms: 200 }));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      script.received[index].push(frame);
      onFrame(socket, frame, index);
    });
  });
  return script;
}

const message = (seq: number): Message => ({
  message_id: `m${seq}`,
  room_id: 'r',
  sender_id: 'bob',
  seq,
  message_type: 'text',
  content: `#${seq}`,
  attachments: null,
  parent_message_id: null,
  thread_count: 0,
  reactions: [],
  is_edited: false,
  is_deleted: false,
  created_at: new Date().toISOString(),
  updated_at: new Date().toISOString(),
  client_msg_id: null,
});

const send = (socket: ServerSocket, frame: object) => socket.send(JSON.stringify(frame));
let chat: ChatClient | undefined;
let script: Script | undefined;

afterEach(async () => {
  chat?.close();
  await script?.close();
});

describe('ChatClient against a server that never answers', () => {
  it('tries again when an upgrade is cut off and the REST API it asks about the token does not answer either', async () => {
    // Upgrades are cut off without a status (as a browser sees every refused one); plain requests hang.
    const server = createServer(() => undefined);
    server.on('upgrade', (_req, socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/chats/ws`;
    const states: string[] = [];
    chat = new ChatClient({ url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory });
    chat.on('state', (state) => states.push(state.status));
    try {
      chat.connect();
      await waitFor(() => states.includes('reconnecting'), 'reconnecting after the token check went unanswered', 15_000);
    } finally {
      chat.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 20_000);
});

describe('ChatClient against a scripted server', () => {
  it('holds a message past a gap, fetches the missing one with `since`, and delivers all in order', async () => {
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'join_room' && !frame.since) {
        send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: ['alice'], typing: [], ref: frame.ref });
        send(socket, { type: 'message', message: message(1) });
        send(socket, { type: 'message', message: message(3) });
      } else if (frame.type === 'join_room') {
        send(socket, { type: 'joined', room_id: 'r', seq: 3, epoch: 'e1', recovered: true, online: ['alice'], typing: [], ref: frame.ref });
        send(socket, { type: 'message', message: message(2) });
        send(socket, { type: 'message', message: message(3) });
        send(socket, { type: 'message', message: message(4) });
      }
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory });
    const seen: number[] = [];
    chat.on('message', (m) => seen.push(m.seq!));
    chat.connect();
    await chat.join('r');
    await waitFor(() => seen.length === 4, 'four messages delivered');
    expect(seen).toEqual([1, 2, 3, 4]);
    const frames = script.received[0].filter((f) => f.type !== 'ping');
    // Joined again without leaving: the user never looks offline to the room.
    expect(frames.map((f) => f.type)).toEqual(['join_room', 'join_room']);
    expect(frames[1].since).toEqual({ seq: 1, epoch: 'e1' });
    expect(chat.joinedRooms()).toEqual(['r']);
  });

  it('drops a connection that stops answering and reconnects, re-joining from where it stood', async () => {
    script = await scriptedServer((socket, frame, index) => {
      if (frame.type === 'join_room') {
        send(socket, { type: 'joined', room_id: 'r', seq: 7, epoch: 'e1', recovered: Boolean(frame.since), online: [], typing: [], ref: frame.ref });
      }
      // The first connection never answers a ping: it looks dead.
      if (frame.type === 'ping' && index > 0) send(socket, { type: 'pong', ref: frame.ref });
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, reconnectBaseMs: 50 });
    chat.connect();
    await chat.join('r');
    await waitFor(() => script!.received.length === 2 && script!.received[1].some((f) => f.type === 'join_room'), 'a second connection re-joins');
    expect(script.received[1].find((f) => f.type === 'join_room')).toMatchObject({ room_id: 'r', since: { seq: 7, epoch: 'e1' } });
  });

  it('counts a room afresh when its history is reset under it, delivering the new history from seq 1 and saying "reload"', async () => {
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type !== 'join_room') return;
      send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
      for (const seq of [1, 2, 3]) send(socket, { type: 'message', message: { ...message(seq), content: `old #${seq}` } });
      // The server's store lost the room's history: seqs start again under a new epoch.
      send(socket, { type: 'history_reset', room_id: 'r', epoch: 'e2', seq: 0 });
      for (const seq of [1, 2]) send(socket, { type: 'message', message: { ...message(seq), content: `new #${seq}` } });
      // A reset to the epoch the client already counts in (a join that raced it) changes nothing.
      send(socket, { type: 'history_reset', room_id: 'r', epoch: 'e2', seq: 0 });
      send(socket, { type: 'message', message: { ...message(3), content: 'new #3' } });
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory });
    const delivered: string[] = [];
    const syncs: Array<{ status: string; cursor: { seq: number; epoch: string } }> = [];
    chat.on('message', (m) => delivered.push(m.content));
    chat.on('joined', (sync) => syncs.push(sync));
    chat.connect();
    await chat.join('r');
    await waitFor(() => delivered.length === 6, 'the old and the new history delivered');
    expect(delivered).toEqual(['old #1', 'old #2', 'old #3', 'new #1', 'new #2', 'new #3']);
    expect(syncs.map((sync) => sync.status)).toEqual(['fresh', 'reload']);
    expect(syncs[1].cursor).toEqual({ seq: 0, epoch: 'e2' });
  });

  it('keeps a room\'s messages in order when the server says "not now" to one: later ones wait for its retry', async () => {
    let seq = 0;
    let refused = false;
    const stored: string[] = [];
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'join_room') send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type !== 'send_message') return;
      // The store is away for the first message's first try.
      if (!refused) {
        refused = true;
        return send(socket, { type: 'error', code: 'unavailable', message: 'The store is away', room_id: 'r', ref: frame.ref });
      }
      stored.push(frame.content as string);
      const saved = { ...message(++seq), sender_id: 'alice', content: frame.content as string, client_msg_id: frame.client_msg_id as string };
      send(socket, { type: 'message_ack', client_msg_id: frame.client_msg_id, message: saved, ref: frame.ref });
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, ackTimeoutMs: 300, pingIntervalMs: 400 });
    chat.connect();
    await chat.join('r');
    const first = chat.send('r', 'first');
    await waitFor(() => refused, 'the first try refused');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = chat.send('r', 'second');
    const [a, b] = await Promise.all([first, second]);
    expect(stored).toEqual(['first', 'second']);
    expect([a.seq, b.seq]).toEqual([1, 2]);
  });

  it('joins again, with backoff, when the server says "not now" to a join or leaves it unanswered; meanwhile the room is not joined', async () => {
    const joins: number[] = [];
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type === 'send_message') {
        const saved = { ...message(1), sender_id: 'alice', content: frame.content as string, client_msg_id: frame.client_msg_id as string };
        send(socket, { type: 'message_ack', client_msg_id: frame.client_msg_id, message: saved, ref: frame.ref });
      }
      if (frame.type !== 'join_room') return;
      joins.push(Date.now());
      // The first join is refused for now (the store away), the second never answered, the third joins.
      if (joins.length === 1) send(socket, { type: 'error', code: 'unavailable', message: 'The store is away', room_id: 'r', ref: frame.ref });
      if (joins.length === 3) send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
    });
    chat = new ChatClient({
      url: script.url,
      token: token('alice'),
      WebSocket: WebSocket as unknown as SocketFactory,
      reconnectBaseMs: 100,
      ackTimeoutMs: 300,
      pingIntervalMs: 250,
    });
    chat.connect();
    const joined = chat.join('r');
    const sent = chat.send('r', 'queued');
    await waitFor(() => joins.length >= 2, 'a second join');
    expect(script.received.flat().some((frame) => frame.type === 'send_message')).toBe(false);
    expect((await joined).status).toBe('fresh');
    expect((await sent).content).toBe('queued');
    expect(joins).toHaveLength(3);
    // The unanswered one went again only after the ack timeout (measured at the server: allow for the clocks' grain).
    expect(joins[2] - joins[1]).toBeGreaterThanOrEqual(250);
  });

  it('joins again soon after a "not now" that names no room (the store away answers by the join\'s ref only)', async () => {
    const joins: number[] = [];
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type !== 'join_room') return;
      joins.push(Date.now());
      if (joins.length === 1) return send(socket, { type: 'error', code: 'unavailable', message: 'The shared store is unreachable; try again', ref: frame.ref });
      send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, reconnectBaseMs: 100, ackTimeoutMs: 10_000 });
    chat.connect();
    expect((await chat.join('r')).status).toBe('fresh');
    expect(joins).toHaveLength(2);
    expect(joins[1] - joins[0]).toBeLessThan(2_000);
  });

  it('takes one answer of a join sent twice: the late answer to the first neither reloads the room nor drops a message', async () => {
    let joins = 0;
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type !== 'join_room') return;
      joins += 1;
      // Answered late, after the client has sent it again; then both answers arrive, and a message after them.
      if (joins === 2) {
        for (const ref of [script!.received[0][0].ref, frame.ref]) {
          send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref });
        }
        send(socket, { type: 'message', message: message(1) });
      }
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, ackTimeoutMs: 300, pingIntervalMs: 250 });
    const syncs: string[] = [];
    const delivered: number[] = [];
    chat.on('joined', (sync) => syncs.push(sync.status));
    chat.on('message', (m) => delivered.push(m.seq!));
    chat.connect();
    await chat.join('r');
    await waitFor(() => delivered.length === 1, 'the message after both answers');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(syncs).toEqual(['fresh']);
    expect(delivered).toEqual([1]);
    expect(chat.cursor('r')).toEqual({ seq: 1, epoch: 'e1' });
  });

  it('tries a message the server said "not now" to again soon, well before the ack timeout', async () => {
    const tries: number[] = [];
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'join_room') send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type !== 'send_message') return;
      tries.push(Date.now());
      if (tries.length === 1) return send(socket, { type: 'error', code: 'unavailable', message: 'The store is away', room_id: 'r', ref: frame.ref });
      const saved = { ...message(1), sender_id: 'alice', content: frame.content as string, client_msg_id: frame.client_msg_id as string };
      send(socket, { type: 'message_ack', client_msg_id: frame.client_msg_id, message: saved, ref: frame.ref });
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, reconnectBaseMs: 200, ackTimeoutMs: 10_000 });
    chat.connect();
    await chat.join('r');
    expect((await chat.send('r', 'soon')).seq).toBe(1);
    expect(tries).toHaveLength(2);
    // Between half the base and one and a half times it: nowhere near the 10 s ack timeout.
    expect(tries[1] - tries[0]).toBeGreaterThanOrEqual(90);
    expect(tries[1] - tries[0]).toBeLessThan(2_000);
  });

  it('sends again what got no answer, past the in-flight window, and confirms each message once', async () => {
    const seenIds = new Set<string>();
    let seq = 0;
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'join_room') send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type !== 'send_message') return;
      const id = frame.client_msg_id as string;
      // The first copy of every message is lost (as a frame dropped by the rate limit is).
      if (!seenIds.has(id)) return void seenIds.add(id);
      const stored = { ...message(++seq), sender_id: 'alice', content: frame.content as string, client_msg_id: id };
      send(socket, { type: 'message_ack', client_msg_id: id, message: stored, ref: frame.ref });
      send(socket, { type: 'message', message: stored });
    });
    // Each heartbeat sends again what is due; the connection counts as dead only after two silent
    // intervals, so a busy machine's stall of a few hundred milliseconds does not reconnect it.
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, ackTimeoutMs: 200, pingIntervalMs: 300 });
    const delivered: string[] = [];
    chat.on('message', (m) => delivered.push(m.content));
    chat.connect();
    await chat.join('r');
    const texts = Array.from({ length: 15 }, (_, i) => `m${i + 1}`);
    const sent = await Promise.all(texts.map((text) => chat!.send('r', text)));
    expect(new Set(sent.map((m) => m.message_id)).size).toBe(15);
    await waitFor(() => delivered.length === 15, 'every message delivered');
    expect(chat.pending()).toEqual([]);
    expect(new Set(delivered).size).toBe(15);
    expect(script.sockets).toHaveLength(1);
  });

  it('sends nothing queued into a room until a recovered join\'s messages are in: one may be the queued message, stored before its answer was lost', async () => {
    let stored: Message | undefined;
    script = await scriptedServer((socket, frame, index) => {
      if (frame.type === 'ping') send(socket, { type: 'pong', ref: frame.ref });
      if (frame.type === 'join_room' && index === 0) {
        send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
      } else if (frame.type === 'join_room') {
        // Past the server's deduplication window a second copy would be stored: the client must see its message first.
        send(socket, { type: 'joined', room_id: 'r', seq: 1, epoch: 'e1', recovered: true, online: [], typing: [], ref: frame.ref });
        send(socket, { type: 'message', message: stored });
      }
      if (frame.type === 'send_message' && index === 0) {
        // Stored, and the connection dies before the answer goes out.
        stored = { ...message(1), sender_id: 'alice', content: frame.content as string, client_msg_id: frame.client_msg_id as string };
        socket.terminate();
      }
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, reconnectBaseMs: 50 });
    chat.connect();
    await chat.join('r');
    const sent = await chat.send('r', 'once');
    expect(sent.message_id).toBe(stored!.message_id);
    expect(chat.pending()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(script.received[1].filter((f) => f.type === 'send_message')).toEqual([]);
  });

  it('paces its frames under the server\'s rate limit, so a reconnect into many rooms loses none of its joins', async () => {
    const firstAt: number[] = [];
    script = await scriptedServer((socket, frame) => {
      if (frame.type !== 'join_room') return;
      firstAt.push(Date.now());
      send(socket, { type: 'joined', room_id: frame.room_id, seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref });
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, maxFramesPerSecond: 10 });
    const rooms = Array.from({ length: 30 }, (_, i) => `r${i}`);
    const joined = Promise.all(rooms.map((room) => chat!.join(room)));
    chat.connect();
    await joined;
    // A burst of twice the rate, then one frame every tenth of a second: the last ten take about a second.
    expect(firstAt).toHaveLength(30);
    expect(firstAt[29] - firstAt[0]).toBeGreaterThanOrEqual(800);
    expect(firstAt[19] - firstAt[0]).toBeLessThan(500);
    // A pace that would never send, or not pace at all, is refused at once.
    for (const rate of [0, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new ChatClient({ url: script!.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory, maxFramesPerSecond: rate })).toThrow(RangeError);
    }
  });

  it('leaves a room whose join is still unanswered: the server takes the join, then the leave', async () => {
    script = await scriptedServer((socket, frame) => {
      if (frame.type === 'join_room') {
        setTimeout(() => send(socket, { type: 'joined', room_id: 'r', seq: 0, epoch: 'e1', recovered: false, online: [], typing: [], ref: frame.ref }), 100);
      }
      if (frame.type === 'leave_room') setTimeout(() => send(socket, { type: 'left', room_id: 'r', ref: frame.ref }), 150);
    });
    chat = new ChatClient({ url: script.url, token: token('alice'), WebSocket: WebSocket as unknown as SocketFactory });
    chat.connect();
    await waitFor(() => chat!.state.status === 'open', 'connected');
    const join = chat.join('r').catch((error: Error) => error.message);
    await waitFor(() => script!.received[0].some((f) => f.type === 'join_room'), 'the join sent');
    await chat.leave('r');
    expect(await join).toBe('The room was left');
    expect(script.received[0].map((f) => f.type).filter((type) => type !== 'ping')).toEqual(['join_room', 'leave_room']);
    expect(chat.joinedRooms()).toEqual([]);
  });
});
