#!/usr/bin/env node
// A terminal chat client on the client library (client/):
//   CHAT_TOKEN=<jwt> npm run chat -- <room_id>
// CHAT_URL picks the server (default ws://localhost:8000/api/v1/chats/ws).
// It remembers where it stood in each room (and what it could not send yet)
// in a small state file, so a restarted client prints what it missed.
// Runs under tsx (`npm run chat`), which lets it import the library's TypeScript.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { clearLine, createInterface, cursorTo, emitKeypressEvents, moveCursor } from 'node:readline';
import WebSocket from 'ws';
import { ChatClient, ChatRest, restBaseFromSocketUrl } from '../client/src/index.ts';

const HELP = `Type a line to send it to the current room. Commands:
  /join <room_id>   join a room (it becomes the current one)
  /leave [room_id]  leave a room (the current one by default)
  /rooms            your rooms, the joined ones marked
  /switch <room_id> make a joined room the current one
  /help             this text
  /quit             leave (Ctrl-D does too)`;

const token = process.env.CHAT_TOKEN;
const url = process.env.CHAT_URL || 'ws://localhost:8000/api/v1/chats/ws';
const firstRoom = process.argv[2];
if (!token) {
  console.error('Set CHAT_TOKEN to your token (e.g. CHAT_TOKEN=$(npm run -s token -- alice)); usage: npm run chat -- <room_id>');
  process.exit(2);
}

const user = tokenSubject(token);
const statePath = process.env.CHAT_STATE || join(homedir(), '.chat-gateway', `${safe(user)}@${safe(new URL(url).host)}.json`);
const state = readState();
const rest = new ChatRest(restBaseFromSocketUrl(url), () => token);
const names = new Map();
let current = firstRoom;
const tty = process.stdout.isTTY && process.stdin.isTTY;

const chat = new ChatClient({
  url,
  token,
  WebSocket,
  outboxStore: { load: () => state.outbox ?? [], save: (entries) => ((state.outbox = entries), writeState()) },
});

const input = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
input.setPrompt('> ');

/** Prints above the input line, keeping what the user is typing. */
function say(text) {
  if (tty) {
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
  }
  console.log(text);
  if (tty) input.prompt(true);
}

// Events print in the order they came, even when one of them waits for the REST API.
let printing = Promise.resolve();
const inOrder = (handler) => (value) => {
  printing = printing.then(() => handler(value)).catch((error) => say(`! ${error.message}`));
};

const time = (iso) => new Date(iso).toTimeString().slice(0, 5);
const roomLabel = (roomId) => (chat.joinedRooms().length > 1 ? `#${names.get(roomId) ?? roomId.slice(0, 8)} ` : '');
const line = (m) => `[${time(m.created_at)}] ${roomLabel(m.room_id)}${m.sender_id}: ${m.is_deleted ? '(deleted)' : m.content}`;

chat.on('state', (s) => {
  if (s.status === 'connecting' && s.attempt === 0) say(`connecting to ${url} …`);
  if (s.status === 'open') say(`connected as ${s.userId}`);
  if (s.status === 'reconnecting') say(`${s.reason}; reconnecting in ${(s.retryInMs / 1000).toFixed(1)} s`);
  if (s.status === 'offline') say('offline; waiting for the network');
  if (s.status === 'closed' && s.reason !== 'client') {
    say(`closed: ${s.message}. Set a valid CHAT_TOKEN and start again.`);
    process.exit(1);
  }
});
chat.on('message', inOrder((m) => {
  say(line(m));
  if (m.seq !== undefined) remember(m.room_id, m.seq);
}));
chat.on('message_updated', inOrder((m) => say(`${line(m)} (edited)`)));
chat.on('message_deleted', inOrder(({ roomId }) => say(`${roomLabel(roomId)}a message was deleted`)));
chat.on('joined', inOrder(async (sync) => {
  const name = await roomName(sync.roomId);
  const others = sync.online.filter((u) => u !== user);
  const who = others.length ? `; online: ${others.join(', ')}` : '';
  if (sync.status === 'recovered') say(`── #${name}: catching up from message ${sync.cursor.seq}${who}`);
  else {
    say(sync.status === 'reload' ? `── #${name}: the history could not be recovered; the latest messages:` : `── joined #${name}${who}`);
    await printHistory(sync.roomId, sync.cursor.seq);
  }
  if (sync.status !== 'recovered') remember(sync.roomId, sync.cursor.seq, sync.cursor.epoch);
}));
chat.on('left', inOrder(({ roomId, reason, error }) => {
  const name = names.get(roomId) ?? roomId;
  if (reason === 'removed') say(`you were removed from #${name}`);
  else if (reason === 'refused') say(`! could not join #${name}: ${error?.message ?? 'refused'}`);
  else say(`left #${name}`);
  delete state.rooms[roomId];
  writeState();
  if (current === roomId) current = chat.joinedRooms()[0];
}));
const typingNow = new Map();
chat.on('typing', inOrder(({ roomId, users }) => {
  const before = typingNow.get(roomId) ?? [];
  for (const u of users) if (!before.includes(u)) say(`${roomLabel(roomId)}${u} is typing…`);
  typingNow.set(roomId, users);
}));
const onlineNow = new Map();
chat.on('presence', inOrder(({ roomId, online }) => {
  const before = onlineNow.get(roomId);
  onlineNow.set(roomId, online);
  if (!before) return;
  for (const u of online) if (!before.includes(u) && u !== user) say(`${roomLabel(roomId)}${u} is online`);
  for (const u of before) if (!online.includes(u) && u !== user) say(`${roomLabel(roomId)}${u} went offline`);
}));
chat.on('error', (e) => say(`! ${e.code}: ${e.message}`));

async function roomName(roomId) {
  if (!names.has(roomId)) {
    try {
      for (const room of await rest.rooms()) names.set(room.room_id, room.room_name || room.room_id);
    } catch {
      // The name is a nicety; the id does.
    }
  }
  return names.get(roomId) ?? roomId;
}

/** The last few messages up to `seq`, for context on a first join or after a reset. */
async function printHistory(roomId, seq) {
  try {
    const page = await rest.history(roomId, { limit: 10 });
    for (const m of page.messages) if ((m.seq ?? 0) <= seq) say(line(m));
  } catch (error) {
    say(`! could not load the history: ${error.message}`);
  }
}

/** Saves how far a room was printed; the epoch comes from the latest join. */
function remember(roomId, seq, epoch = state.rooms[roomId]?.epoch ?? chat.cursor(roomId)?.epoch) {
  if (epoch === undefined) return;
  state.rooms[roomId] = { seq, epoch };
  writeState();
}

function joinRoom(roomId) {
  current = roomId;
  // A refusal arrives as `left` with the reason.
  chat.join(roomId, { since: state.rooms[roomId] }).catch(() => undefined);
}

async function command(text) {
  const [name, arg] = text.split(/\s+/, 2);
  switch (name) {
    case '/help':
      return say(HELP);
    case '/quit':
      return quit();
    case '/join':
      return arg ? joinRoom(arg) : say('usage: /join <room_id>');
    case '/switch':
      if (!chat.joinedRooms().includes(arg)) return say(`not joined: ${arg ?? '(none given)'}`);
      current = arg;
      return say(`now writing to #${await roomName(arg)}`);
    case '/leave': {
      const roomId = arg || current;
      if (!roomId) return say('no room to leave');
      return chat.leave(roomId);
    }
    case '/rooms': {
      try {
        const rooms = await rest.rooms();
        if (rooms.length === 0) return say('you are in no room yet');
        for (const room of rooms) {
          names.set(room.room_id, room.room_name || room.room_id);
          const mark = room.room_id === current ? ' (current)' : chat.joinedRooms().includes(room.room_id) ? ' (joined)' : '';
          say(`  ${room.room_id}  ${room.room_name ?? ''}${mark}  members: ${room.member_ids.join(', ')}`);
        }
      } catch (error) {
        say(`! could not list your rooms: ${error.message}`);
      }
      return;
    }
    default:
      return say(`unknown command ${name}; /help lists them`);
  }
}

let closing = false;
async function quit() {
  if (closing) return;
  closing = true;
  // Give queued messages a moment to go out; they stay in the state file otherwise.
  const deadline = Date.now() + 5000;
  while (chat.pending().length > 0 && chat.state.status !== 'closed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (chat.pending().length > 0) say(`${chat.pending().length} message(s) not sent yet; they go out the next time you start`);
  chat.close();
  process.exit(0);
}

input.on('line', (text) => {
  if (tty) {
    moveCursor(process.stdout, 0, -1);
    clearLine(process.stdout, 0);
  }
  const trimmed = text.trim();
  if (!trimmed) return tty && input.prompt();
  if (trimmed.startsWith('/')) return void command(trimmed);
  if (!current) return say('join a room first: /join <room_id> (/rooms lists yours)');
  chat.send(current, trimmed).catch((error) => say(`! not sent (${error.code ?? 'error'}): ${error.message}`));
});
input.on('close', () => void quit());
input.on('SIGINT', () => void quit());
if (tty) {
  emitKeypressEvents(process.stdin);
  // Typing a message shows you typing; typing a command does not.
  process.stdin.on('keypress', (_char, key) => {
    if (current && key?.name !== 'return' && input.line && !input.line.startsWith('/')) chat.typing(current);
  });
}

chat.connect();
if (firstRoom) joinRoom(firstRoom);
else say('no room given: /join <room_id> (/rooms lists yours), /help for more');
if (tty) input.prompt();

function tokenSubject(jwt) {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).sub ?? 'user';
  } catch {
    return 'user';
  }
}

function safe(text) {
  return String(text).replace(/[^\w.-]/g, '_');
}

function readState() {
  try {
    const saved = JSON.parse(readFileSync(statePath, 'utf8'));
    return { rooms: saved.rooms ?? {}, outbox: saved.outbox ?? [] };
  } catch {
    return { rooms: {}, outbox: [] };
  }
}

function writeState() {
  mkdirSync(dirname(statePath), { recursive: true });
  writeFileSync(`${statePath}.tmp`, JSON.stringify(state));
  renameSync(`${statePath}.tmp`, statePath);
}
