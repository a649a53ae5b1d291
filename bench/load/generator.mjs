// The load generator: one process (pinned to its own core by the runner),
// plain `ws` clients, driven over IPC by bench/run.mjs. It creates rooms over
// REST, opens and joins connections, sends at a paced rate and counts, per
// receiver, what arrives. Latency is read from a timestamp inside each
// message's content, taken on this process's monotonic clock at send time.
// Frames are recognised by byte search rather than parsed, so reading stays
// cheap next to the server's work.
import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';

const MARK = Buffer.from('"content":"bench|');
const ACK = '{"type":"message_ack"';
const ERROR = '{"type":"error"';
const BUCKET_MS = 0.1;
const histogram = new Uint32Array(300_001); // 0.1 ms buckets up to 30 s; the last one holds the rest

let key;
let deflate = false;
/** Connections of the current load: { ws, room, role: 'sender' | 'receiver' | 'idle', got, closeCode, slow } */
let connections = [];
/** Rooms of the current load: { id, sent, receivers, frame(step) } */
let rooms = [];
let senders = [];
/** Sockets `openIdle` will open: { room, user, token } */
let idlePlan = [];
let currentStep = 0;
let stale = 0;
let acks = 0;
const errors = {};

/** Chat-like text of `length` characters: compresses like a real message, unlike a run of one letter. */
function prose(length) {
  const words = 'the we it on for next review meeting moved to Thursday figures draft please check budget team notes ok thanks see you at ten and bring slides'.split(' ');
  let text = '';
  for (let i = 0; text.length < length; i++) text += `${words[(i * 7 + (i >> 3)) % words.length]} `;
  return text.slice(0, length);
}

const token = (sub) => jwt.sign({ sub }, key, { algorithm: 'HS256', expiresIn: '2h' });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` in flight, keeping order of results. */
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function createRoom(httpUrl, owner, memberIds) {
  const response = await fetch(`${httpUrl}/api/v1/chats/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token(owner)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ room_type: 'team', room_name: 'bench', member_ids: memberIds }),
  });
  if (response.status !== 201) throw new Error(`POST /rooms: ${response.status} ${await response.text()}`);
  return (await response.json()).room_id;
}

/** Opens a socket and resolves on its first frame, which must be `connected`. */
function open(url, jwtToken) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${jwtToken}`, { perMessageDeflate: deflate });
    ws.once('error', reject);
    ws.once('unexpected-response', (_, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('message', (data) => {
      ws.off('error', reject);
      ws.on('error', () => undefined);
      if (!data.toString().startsWith('{"type":"connected"')) return reject(new Error(`first frame: ${data}`));
      resolve(ws);
    });
  });
}

/** Sends `join_room` and resolves on `joined`; `unavailable` is retried as a client would, another `error` rejects. */
async function join(ws, roomId) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await joinOnce(ws, roomId);
    } catch (error) {
      if (attempt >= 5 || !error.message.includes('"code":"unavailable"')) throw error;
      await sleep(200 * attempt);
    }
  }
}

function joinOnce(ws, roomId) {
  return new Promise((resolve, reject) => {
    const onFrame = (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"joined"')) {
        ws.off('message', onFrame);
        resolve();
      } else if (text.startsWith(ERROR)) {
        ws.off('message', onFrame);
        reject(new Error(`join_room: ${text}`));
      }
    };
    ws.on('message', onFrame);
    ws.send(JSON.stringify({ type: 'join_room', room_id: roomId }));
  });
}

function onReceiverFrame(connection, data) {
  const at = data.indexOf(MARK);
  if (at < 0) return;
  const [step, sentAt] = data.toString('latin1', at + MARK.length, at + MARK.length + 40).split('|');
  if (Number(step) !== currentStep) {
    stale += 1;
    return;
  }
  connection.got += 1;
  const bucket = Math.min(histogram.length - 1, Math.floor((performance.now() - Number(sentAt)) / BUCKET_MS));
  histogram[bucket] += 1;
}

function onSenderFrame(data) {
  const head = data.toString('latin1', 0, 24);
  if (head.startsWith(ACK)) acks += 1;
  else if (head.startsWith(ERROR)) {
    const code = JSON.parse(data.toString()).code;
    errors[code] = (errors[code] ?? 0) + 1;
  }
}

function percentile(p, total) {
  if (total === 0) return null;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= rank) return Number(((i + 1) * BUCKET_MS).toFixed(1));
  }
  return null;
}

function track(connection) {
  connection.ws.on('close', (code) => (connection.closeCode = code));
  connection.ws.on('message', (data) =>
    connection.role === 'sender' ? onSenderFrame(data) : onReceiverFrame(connection, data),
  );
  return connection;
}

const commands = {
  configure(args) {
    key = createSecretKey(Buffer.from(args.secret));
    deflate = args.deflate ?? false;
  },

  /**
   * `rooms` rooms of `members` connections each; member 0 of each room sends.
   * Connection i goes to wsUrls[i % n], so rooms spread over the instances.
   */
  async setup({ wsUrls, httpUrls, roomCount, members, contentBytes }) {
    const started = performance.now();
    const users = Array.from({ length: roomCount }, (_, r) => Array.from({ length: members }, (_, m) => `u${r}-${m}`));
    const ids = await pool(users, 16, (roomUsers, r) => createRoom(httpUrls[r % httpUrls.length], roomUsers[0], roomUsers.slice(1)));
    const pad = prose(Math.max(0, contentBytes - 30));
    rooms = ids.map((id) => {
      const prefix = `{"type":"send_message","room_id":${JSON.stringify(id)},"content":"bench|`;
      return { id, sent: 0, receivers: 0, frame: (step) => `${prefix}${step}|${performance.now().toFixed(3)}|${pad}"}` };
    });
    const plan = users.flatMap((roomUsers, r) => roomUsers.map((user, m) => ({ user, room: rooms[r], role: m === 0 ? 'sender' : 'receiver' })));
    connections = await pool(plan, 64, async ({ user, room, role }, i) => {
      const ws = await open(wsUrls[i % wsUrls.length], token(user));
      await join(ws, room.id);
      if (role === 'receiver') room.receivers += 1;
      return track({ ws, room, role, got: 0, closeCode: null, slow: false });
    });
    senders = connections.filter((c) => c.role === 'sender');
    return { connections: connections.length, rooms: rooms.length, setupMs: Math.round(performance.now() - started) };
  },

  /**
   * Sends `rate` messages per second in total for `durationMs`, round-robin
   * over the senders, then waits up to `drainMs` for every receiver to have
   * every message of this step. Receivers marked slow are left out of loss
   * and latency.
   */
  async step({ rate, durationMs, drainMs }) {
    currentStep += 1;
    histogram.fill(0);
    stale = 0;
    acks = 0;
    for (const code of Object.keys(errors)) delete errors[code];
    for (const room of rooms) room.sent = 0;
    for (const connection of connections) connection.got = 0;
    const healthy = connections.filter((c) => c.role === 'receiver' && !c.slow);
    // Bytes off the wire (after permessage-deflate, with frame headers): what compression saves.
    const wireBytes = () => healthy.reduce((sum, c) => sum + (c.ws._socket?.bytesRead ?? 0), 0);
    const wireBefore = wireBytes();
    const loopLag = [];
    let sent = 0;
    const started = performance.now();
    await new Promise((resolve) => {
      let last = started;
      const tick = () => {
        const now = performance.now();
        loopLag.push(now - last);
        last = now;
        const elapsed = Math.min(now - started, durationMs);
        const due = Math.floor((rate * elapsed) / 1000);
        while (sent < due) {
          const sender = senders[sent % senders.length];
          if (sender.ws.readyState === WebSocket.OPEN) sender.ws.send(sender.room.frame(currentStep));
          sender.room.sent += 1;
          sent += 1;
        }
        if (elapsed >= durationMs) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const sendSeconds = (performance.now() - started) / 1000;
    const expectedOf = (c) => c.room.sent;
    const expected = healthy.reduce((sum, c) => sum + expectedOf(c), 0);
    const delivered = () => healthy.reduce((sum, c) => sum + Math.min(c.got, expectedOf(c)), 0);
    const drainStart = performance.now();
    while (delivered() < expected && performance.now() - drainStart < drainMs) await sleep(10);
    const got = delivered();
    const wire = wireBytes() - wireBefore;
    const lossyReceivers = healthy.filter((c) => c.got < expectedOf(c)).length;
    loopLag.sort((a, b) => a - b);
    return {
      rate,
      sent,
      sentPerSecond: Math.round(sent / sendSeconds),
      expected,
      delivered: got,
      lost: expected - got,
      lossyReceivers,
      deliveredPerSecond: Math.round(got / sendSeconds),
      wireBytesPerDelivery: got > 0 ? Math.round(wire / got) : null,
      latencyMs: { p50: percentile(0.5, got), p99: percentile(0.99, got), max: percentile(1, got) },
      acks,
      errors: { ...errors },
      stale,
      closed: closeCodes(connections),
      generatorTickP99Ms: Number((loopLag[Math.floor(loopLag.length * 0.99)] ?? 0).toFixed(1)),
    };
  },

  /** Stops reading on a share of the receivers: the server sees slow consumers. */
  slowReaders({ fraction }) {
    const receivers = connections.filter((c) => c.role === 'receiver');
    const every = Math.max(1, Math.round(1 / fraction));
    let count = 0;
    receivers.forEach((c, i) => {
      if (i % every === 0) {
        c.slow = true;
        c.ws.pause();
        count += 1;
      }
    });
    return { slow: count };
  },

  /**
   * Resumes the slow readers and says how their connections ended: once every
   * one has closed, or after `waitMs` (reading a backlog held in socket
   * buffers takes a while on a busy machine, so a fixed short wait could
   * count a reader being closed as one left open).
   */
  async releaseSlowReaders({ waitMs }) {
    const slow = connections.filter((c) => c.slow);
    for (const c of slow) c.ws.resume();
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && slow.some((c) => c.closeCode === null)) await sleep(100);
    return { slow: slow.length, closed: closeCodes(slow), open: slow.filter((c) => c.closeCode === null).length };
  },

  /** Creates `count / perRoom` rooms; the sockets are opened by `openIdle`. */
  async prepareIdle({ httpUrls, count, perRoom }) {
    const started = performance.now();
    const roomCount = Math.ceil(count / perRoom);
    const users = Array.from({ length: roomCount }, (_, r) => Array.from({ length: perRoom }, (_, m) => `i${r}-${m}`));
    const ids = await pool(users, 16, (roomUsers, r) => createRoom(httpUrls[r % httpUrls.length], roomUsers[0], roomUsers.slice(1)));
    rooms = ids.map((id, r) => ({ id, users: users[r] }));
    // Tokens are signed before the clock starts: opening measures the server.
    const plan = rooms.flatMap((room) => room.users.map((user) => ({ room, user, token: token(user) }))).slice(0, count);
    idlePlan = plan;
    return { rooms: rooms.length, setupMs: Math.round(performance.now() - started) };
  },

  /** Opens every planned socket (`concurrency` handshakes in flight), then joins each to its room. */
  async openIdle({ wsUrls, concurrency }) {
    const plan = idlePlan;
    const started = performance.now();
    const sockets = await pool(plan, concurrency, ({ token: jwtToken }, i) => open(wsUrls[i % wsUrls.length], jwtToken));
    const openMs = performance.now() - started;
    await pool(plan, concurrency, ({ room }, i) => join(sockets[i], room.id));
    const joinMs = performance.now() - started - openMs;
    connections = sockets.map((ws) => ({ ws, room: undefined, role: 'idle', got: 0, closeCode: null, slow: false }));
    for (const c of connections) c.ws.on('close', (code) => (c.closeCode = code));
    return { connections: sockets.length, openMs: Math.round(openMs), joinMs: Math.round(joinMs) };
  },

  async teardown() {
    for (const { ws } of connections) ws.terminate();
    connections = [];
    rooms = [];
    senders = [];
    await sleep(200);
  },
};

function closeCodes(list) {
  const codes = {};
  for (const c of list) if (c.closeCode !== null) codes[c.closeCode] = (codes[c.closeCode] ?? 0) + 1;
  return codes;
}

/**
 * Several loads can be set up side by side (one per target, so their steps
 * can alternate), named by `args.load`. Commands run one at a time; each
 * works on its load's connections and rooms.
 */
const loads = new Map();

process.on('message', async ({ id, command, args = {} }) => {
  const name = args.load ?? 'main';
  ({ connections, rooms, senders, idlePlan } = loads.get(name) ?? { connections: [], rooms: [], senders: [], idlePlan: [] });
  try {
    process.send({ id, result: await commands[command](args) });
  } catch (error) {
    process.send({ id, error: error instanceof Error ? error.stack : String(error) });
  } finally {
    if (command === 'teardown') loads.delete(name);
    else loads.set(name, { connections, rooms, senders, idlePlan });
  }
});
process.on('disconnect', () => process.exit(0));
