#!/usr/bin/env node
// The floor the service is measured against: a bare `ws` server, no framework,
// speaking the protocol subset the benchmark uses (docs/PROTOCOL.md): the JWT
// verified at the upgrade (`?token=`, HS256 with one key object built at
// start-up), `connected`, `ping`/`pong`, `join_room` with a membership check
// against rooms created over REST, `send_message` (parse, check the room is
// joined, serialize once, write to every member, `message_ack` to the sender),
// a slow reader closed with 1013, protocol pings.
//
// Embedded (no REDIS_URL): rooms, membership and seq in memory.
// With REDIS_URL: membership is a Redis set; a message takes one script
// (next seq, append to a capped stream, publish) — the least a shared order
// and history need — and every instance fans out what its subscriber hears.
//
// Settings (environment): PORT (0: any), JWT_SECRET, MAX_BUFFERED_BYTES,
// HEARTBEAT_INTERVAL_MS, REDIS_URL, REDIS_KEY_PREFIX, PERMESSAGE_DEFLATE=1.
// Prints `Listening on http://127.0.0.1:<port>` once ready.
import { createSecretKey, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { WebSocket, WebSocketServer } from 'ws';

const env = process.env;
const key = createSecretKey(Buffer.from(env.JWT_SECRET ?? ''));
const MAX_BUFFERED = Number(env.MAX_BUFFERED_BYTES ?? 4 * 1024 * 1024);
const HEARTBEAT_MS = Number(env.HEARTBEAT_INTERVAL_MS ?? 10_000);
const MAX_CONTENT = 4000;
const HISTORY_MAX = 10_000;
const PREFIX = env.REDIS_KEY_PREFIX ?? '';
const WS_PATH = '/api/v1/chats/ws';
const ROOMS_PATH = '/api/v1/chats/rooms';

/** One writer of a room's order: next seq, capped history, publish. KEYS: seq, log. ARGV: message JSON without its opening brace, max, channel. */
const APPEND = `
local seq = redis.call('INCR', KEYS[1])
local json = '{"seq":' .. seq .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'm', json)
redis.call('PUBLISH', ARGV[3], json)
return json`;

const redis = env.REDIS_URL ? new Redis(env.REDIS_URL) : undefined;
const subscriber = redis?.duplicate();
if (redis) redis.defineCommand('appendMessage', { numberOfKeys: 2, lua: APPEND });

/** room id → { members: Set<user id> (embedded only), sockets: Set<socket>, seq (embedded only) } */
const rooms = new Map();
const channelOf = (roomId) => `${PREFIX}bench:room:${roomId}`;
const membersKey = (roomId) => `${PREFIX}bench:room:${roomId}:members`;

function verify(token) {
  if (!token) return undefined;
  try {
    const claims = jwt.verify(token, key, { algorithms: ['HS256'], clockTolerance: 30 });
    return typeof claims.sub === 'string' && claims.sub.length > 0 ? claims : undefined;
  } catch {
    return undefined;
  }
}

function reject(res, status, error) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error, message: error }));
}

const http = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== ROOMS_PATH) return reject(res, 404, 'not_found');
  const claims = verify(/^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]);
  if (!claims) return reject(res, 401, 'unauthorized');
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      return reject(res, 400, 'invalid_json');
    }
    const memberIds = Array.isArray(body.member_ids) ? body.member_ids.filter((id) => typeof id === 'string') : [];
    const roomId = randomUUID();
    const members = [claims.sub, ...memberIds];
    if (redis) await redis.sadd(membersKey(roomId), ...members);
    else rooms.set(roomId, { members: new Set(members), sockets: new Set(), seq: 0 });
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ room_id: roomId, room_type: body.room_type, owner_id: claims.sub, member_ids: members }));
  });
});

const wss = new WebSocketServer({
  noServer: true,
  maxPayload: 65_536,
  clientTracking: true,
  // The service's deflate defaults (WS_DEFLATE_*), so both compress the same way.
  perMessageDeflate:
    env.PERMESSAGE_DEFLATE === '1'
      ? { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, zlibDeflateOptions: { memLevel: 5 } }
      : false,
});

http.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const claims = url.pathname === WS_PATH ? verify(url.searchParams.get('token')) : undefined;
  if (!claims) {
    socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"unauthorized"}');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => accept(ws, claims.sub));
});

function write(ws, data) {
  if (ws.readyState !== WebSocket.OPEN) return;
  if (ws.bufferedAmount > MAX_BUFFERED) return ws.close(1013, 'slow_consumer');
  ws.send(data, { binary: false });
}

function reply(ws, frame, ref) {
  write(ws, JSON.stringify(ref === undefined ? frame : { ...frame, ref }));
}

function error(ws, code, message, ref, roomId) {
  reply(ws, roomId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, room_id: roomId }, ref);
}

function accept(ws, userId) {
  ws.userId = userId;
  ws.joined = new Set();
  ws.alive = true;
  ws.on('pong', () => (ws.alive = true));
  ws.on('error', () => undefined);
  ws.on('close', () => {
    for (const roomId of ws.joined) leave(ws, roomId);
  });
  ws.on('message', (data, isBinary) => {
    ws.alive = true;
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return error(ws, 'invalid_json', 'The frame is not valid JSON');
    }
    if (isBinary || typeof frame !== 'object' || frame === null) return error(ws, 'invalid_frame', 'A frame must be a JSON object');
    const ref = typeof frame.ref === 'string' ? frame.ref : undefined;
    switch (frame.type) {
      case 'ping':
        return reply(ws, { type: 'pong' }, ref);
      case 'join_room':
        return void join(ws, frame, ref).catch(() => error(ws, 'internal_error', 'Join failed', ref));
      case 'send_message':
        return void send(ws, frame, ref).catch(() => error(ws, 'unavailable', 'Send failed', ref));
      default:
        return error(ws, 'unknown_type', 'Unknown frame type', ref);
    }
  });
  reply(ws, {
    type: 'connected',
    message: 'WebSocket connection established',
    user_id: userId,
    connection_id: randomUUID(),
    heartbeat_interval_ms: HEARTBEAT_MS,
  });
}

function localRoom(roomId) {
  let room = rooms.get(roomId);
  if (!room) rooms.set(roomId, (room = { members: undefined, sockets: new Set(), seq: 0 }));
  return room;
}

async function join(ws, frame, ref) {
  const roomId = frame.room_id;
  if (typeof roomId !== 'string') return error(ws, 'invalid_frame', 'room_id must be a string', ref);
  const member = redis ? (await redis.sismember(membersKey(roomId), ws.userId)) === 1 : rooms.get(roomId)?.members.has(ws.userId);
  if (!member) return error(ws, 'not_a_member', 'Not a member of this room', ref, roomId);
  const room = localRoom(roomId);
  if (redis && room.sockets.size === 0) await subscriber.subscribe(channelOf(roomId));
  room.sockets.add(ws);
  ws.joined.add(roomId);
  reply(ws, { type: 'joined', room_id: roomId, seq: room.seq, epoch: 'bench', recovered: false, online: [ws.userId], typing: [] }, ref);
}

function leave(ws, roomId) {
  const room = rooms.get(roomId);
  if (!room) return;
  room.sockets.delete(ws);
  if (redis && room.sockets.size === 0) {
    rooms.delete(roomId);
    subscriber.unsubscribe(channelOf(roomId)).catch(() => undefined);
  }
}

async function send(ws, frame, ref) {
  const roomId = frame.room_id;
  if (typeof roomId !== 'string' || typeof frame.content !== 'string') {
    return error(ws, 'invalid_frame', 'room_id and content must be strings', ref);
  }
  if (!ws.joined.has(roomId)) return error(ws, 'not_joined', 'Join the room first', ref, roomId);
  if (frame.content.length > MAX_CONTENT) return error(ws, 'content_too_long', 'content is too long', ref, roomId);
  const at = new Date().toISOString();
  const message = {
    message_id: randomUUID(),
    room_id: roomId,
    sender_id: ws.userId,
    seq: 0,
    message_type: 'text',
    content: frame.content,
    attachments: null,
    parent_message_id: null,
    thread_count: 0,
    reactions: [],
    is_edited: false,
    is_deleted: false,
    created_at: at,
    updated_at: at,
    client_msg_id: typeof frame.client_msg_id === 'string' ? frame.client_msg_id : null,
  };
  if (redis) {
    const { seq: _, ...rest } = message;
    const json = await redis.appendMessage(`${PREFIX}bench:room:${roomId}:seq`, `${PREFIX}bench:room:${roomId}:log`, JSON.stringify(rest).slice(1), HISTORY_MAX, channelOf(roomId));
    return reply(ws, { type: 'message_ack', client_msg_id: message.client_msg_id, message: JSON.parse(json) }, ref);
  }
  const room = rooms.get(roomId);
  message.seq = ++room.seq;
  fanOut(room, Buffer.from(JSON.stringify({ type: 'message', message })));
  reply(ws, { type: 'message_ack', client_msg_id: message.client_msg_id, message }, ref);
}

/** One encoded frame written to every local member. */
function fanOut(room, data) {
  for (const member of room.sockets) write(member, data);
}

subscriber?.on('message', (channel, payload) => {
  const room = rooms.get(channel.slice(`${PREFIX}bench:room:`.length));
  if (!room) return;
  // Decoded once to refuse what is not a message, then re-framed around the original text.
  const message = JSON.parse(payload);
  if (typeof message !== 'object' || message === null || typeof message.seq !== 'number') return;
  fanOut(room, Buffer.from(`{"type":"message","message":${payload}}`));
});

setInterval(() => {
  for (const ws of wss.clients) {
    // A closing socket (a slow reader told 1013) ends by the close handshake or its timeout.
    if (ws.readyState !== WebSocket.OPEN) continue;
    if (!ws.alive) {
      ws.terminate();
      continue;
    }
    ws.alive = false;
    ws.ping();
  }
}, HEARTBEAT_MS).unref();

const shutdown = () => {
  for (const ws of wss.clients) ws.terminate();
  http.close();
  redis?.disconnect();
  subscriber?.disconnect();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

http.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`Listening on http://127.0.0.1:${http.address().port}`);
});
