// The browser demo: one page on the client library. It signs in with a
// development token, joins every room of the user, and shows messages,
// typing, presence and the connection state; queued messages survive a reload.
import {
  ChatClient,
  ChatRest,
  localStorageOutboxStore,
  type ConnectionState,
  type Message,
  type OutboxEntry,
  type Room,
} from '../src/index.js';

interface DemoConfig {
  ws_path: string;
  api_path: string;
  mint_tokens: boolean;
}

interface RoomView {
  room: Room;
  /** By message id; shown sorted by seq. */
  messages: Map<string, Message>;
  hasMore: boolean;
  unread: number;
  notice?: string;
  /** The server history's epoch the messages shown come from. */
  epoch?: string;
  /** Failed loads of the newest page in a row (it is tried again, later each time), and the timer of the next try. */
  historyFailures: number;
  historyRetry?: ReturnType<typeof setTimeout>;
  /** Counts loads of the newest page and resets: an answer to an earlier one is stale. */
  historyVersion: number;
}

const SESSION_KEY = 'chat-demo-session';
const PAGE = 50;
const ROOMS_POLL_MS = 3000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  status: document.querySelector<HTMLElement>('[data-testid="connection-state"]')!,
  statusLabel: document.querySelector<HTMLElement>('[data-testid="connection-state"] .label')!,
  signin: $('signin'),
  signinForm: $<HTMLFormElement>('signin-form'),
  name: $<HTMLInputElement>('name'),
  nameField: $('name-field'),
  tokenField: $('token-field'),
  token: $<HTMLTextAreaElement>('token'),
  signinError: $('signin-error'),
  app: $('app'),
  me: $('me'),
  meName: $('me-name'),
  meAvatar: $('me-avatar'),
  signOut: $('sign-out'),
  rooms: $('rooms'),
  newRoomBox: $<HTMLDetailsElement>('new-room-box'),
  newRoom: $<HTMLFormElement>('new-room'),
  roomName: $<HTMLInputElement>('room-name'),
  roomMembers: $<HTMLInputElement>('room-members'),
  noRoom: $('no-room'),
  room: $('room'),
  roomTitle: $('room-title'),
  presence: $('presence'),
  addMember: $<HTMLFormElement>('add-member'),
  memberName: $<HTMLInputElement>('member-name'),
  messages: $('messages'),
  older: $<HTMLButtonElement>('older'),
  notice: $('notice'),
  list: $('message-list'),
  typing: $('typing'),
  composer: $<HTMLFormElement>('composer'),
  input: $<HTMLTextAreaElement>('composer-input'),
  toasts: $('toasts'),
};

let config: DemoConfig;
let user = '';
let token = '';
let chat: ChatClient | undefined;
let rest: ChatRest;
const views = new Map<string, RoomView>();
let selected: string | undefined;
let countdown: ReturnType<typeof setInterval> | undefined;
let roomsPoll: ReturnType<typeof setInterval> | undefined;

// ── Sign-in ──────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  config = (await (await fetch('/demo/config.json')).json()) as DemoConfig;
  ui.tokenField.hidden = config.mint_tokens;
  ui.nameField.hidden = !config.mint_tokens;
  const saved = readSession();
  if (saved) return start(saved.user, saved.token);
  ui.signin.hidden = false;
  (config.mint_tokens ? ui.name : ui.token).focus();
}

ui.signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  ui.signinError.textContent = '';
  try {
    if (config.mint_tokens) {
      const name = ui.name.value.trim();
      if (!name) throw new Error('Pick a name first');
      await start(name, await mintToken(name));
    } else {
      const pasted = ui.token.value.trim();
      await start(subjectOf(pasted), pasted);
    }
  } catch (error) {
    ui.signinError.textContent = (error as Error).message;
  }
});

ui.signOut.addEventListener('click', () => {
  localStorage.removeItem(SESSION_KEY);
  location.hash = '';
  location.reload();
});

async function mintToken(name: string): Promise<string> {
  const response = await fetch('/demo/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: name }),
  });
  const body = (await response.json()) as { token?: string; message?: string };
  if (!response.ok || !body.token) throw new Error(body.message ?? `Sign-in failed (${response.status})`);
  return body.token;
}

async function start(name: string, jwt: string): Promise<void> {
  user = name;
  token = jwt;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ user, token }));
  ui.signin.hidden = true;
  ui.app.hidden = false;
  ui.me.hidden = false;
  ui.meName.textContent = user;
  paintAvatar(ui.meAvatar, user);

  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${config.ws_path}`;
  rest = new ChatRest(`${location.origin}${config.api_path}`, () => token);
  chat = new ChatClient({
    url: wsUrl,
    token,
    refreshToken: config.mint_tokens ? async () => (token = await mintToken(user)) : undefined,
    outboxStore: localStorageOutboxStore(`chat-demo-outbox:${user}`),
  });
  chat.on('state', showState);
  chat.on('message', (message) => addMessage(message, true));
  chat.on('sent', ({ message }) => addMessage(message, false));
  chat.on('message_updated', (message) => addMessage(message, false));
  chat.on('message_deleted', ({ roomId, messageId }) => {
    const message = views.get(roomId)?.messages.get(messageId);
    if (message) addMessage({ ...message, is_deleted: true, content: '' }, false);
  });
  chat.on('outbox', () => renderMessages());
  chat.on('joined', ({ roomId, status, cursor }) => {
    const view = views.get(roomId);
    if (!view) return;
    // Another epoch means the server's history started again: what is shown is gone. (`unknown`: the store is away, no reset.)
    if (cursor.epoch && cursor.epoch !== 'unknown') {
      if (view.epoch !== undefined && view.epoch !== cursor.epoch) {
        view.messages.clear();
        view.historyVersion += 1;
        view.notice = 'The server’s history was reset; showing what it has now.';
      }
      view.epoch = cursor.epoch;
    }
    if (status !== 'recovered') void loadHistory(roomId, true);
  });
  chat.on('presence', ({ roomId }) => roomId === selected && renderPresence());
  chat.on('typing', ({ roomId }) => roomId === selected && renderTyping());
  chat.on('left', ({ roomId, reason, error }) => {
    if (reason !== 'left') toast(reason === 'removed' ? `You were removed from ${roomLabel(roomId)}` : `Cannot open ${roomLabel(roomId)}: ${error?.message ?? 'refused'}`);
    views.delete(roomId);
    if (selected === roomId) selected = undefined;
    renderRooms();
    select(selected ?? views.keys().next().value);
  });
  // Frames dropped over the rate limit are sent again by the library (the messages show as pending meanwhile): nothing to tell.
  chat.on('error', ({ code, message }) => code !== 'rate_limited' && toast(message));
  chat.connect();

  // Read before the rooms load: selecting one rewrites the address.
  const wanted = decodeURIComponent(location.hash.slice(1));
  await refreshRooms();
  select(wanted || views.keys().next().value);
  roomsPoll = setInterval(() => chat?.state.status === 'open' && void refreshRooms(), ROOMS_POLL_MS);
}

// ── Rooms ────────────────────────────────────────────────────────────────

/** Rooms appear when someone adds the user; the list is polled. */
async function refreshRooms(): Promise<void> {
  let rooms: Room[];
  try {
    rooms = await rest.rooms();
  } catch (error) {
    if ((error as { status?: number }).status === 401) return signInAgain();
    return;
  }
  let changed = false;
  for (const room of rooms) {
    const view = views.get(room.room_id);
    if (view) {
      view.room = room;
      continue;
    }
    views.set(room.room_id, { room, messages: new Map(), hasMore: false, unread: 0, historyFailures: 0, historyVersion: 0 });
    chat!.join(room.room_id).catch(() => undefined);
    changed = true;
  }
  renderRooms();
  if (changed && !selected) select(views.keys().next().value);
  if (selected) renderHeader();
}

function select(roomId: string | undefined): void {
  if (roomId && !views.has(roomId)) roomId = views.keys().next().value;
  selected = roomId;
  ui.noRoom.hidden = Boolean(roomId);
  ui.room.hidden = !roomId;
  if (!roomId) {
    ui.list.replaceChildren();
    return renderRooms();
  }
  history.replaceState(null, '', `#${encodeURIComponent(roomId)}`);
  views.get(roomId)!.unread = 0;
  renderRooms();
  renderHeader();
  renderMessages(true);
  renderTyping();
  ui.input.focus();
}

ui.newRoom.addEventListener('submit', async (event) => {
  event.preventDefault();
  const members = ui.roomMembers.value.split(/[\s,]+/).filter(Boolean);
  const name = ui.roomName.value.trim();
  if (!name) return toast('Give the room a name');
  // One room per click: the button waits for the answer.
  const button = ui.newRoom.querySelector('button')!;
  if (button.disabled) return;
  button.disabled = true;
  try {
    const room = await rest.createRoom({ room_type: 'team', room_name: name, member_ids: members });
    views.set(room.room_id, { room, messages: new Map(), hasMore: false, unread: 0, historyFailures: 0, historyVersion: 0 });
    void chat!.join(room.room_id).catch(() => undefined);
    ui.newRoom.reset();
    ui.newRoomBox.open = false;
    select(room.room_id);
  } catch (error) {
    toast(`Could not create the room: ${(error as Error).message}`);
  } finally {
    button.disabled = false;
  }
});

ui.addMember.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = ui.memberName.value.trim();
  if (!name || !selected) return;
  try {
    await rest.addMember(selected, name);
    ui.memberName.value = '';
    toast(`${name} was added`);
    await refreshRooms();
  } catch (error) {
    toast(`Could not add ${name}: ${(error as Error).message}`);
  }
});

// ── Messages ─────────────────────────────────────────────────────────────

/** The newest page (`fresh`), or the page before the oldest shown. */
async function loadHistory(roomId: string, fresh: boolean): Promise<void> {
  const view = views.get(roomId);
  if (!view) return;
  if (fresh) {
    clearTimeout(view.historyRetry);
    view.historyVersion += 1;
  }
  const version = view.historyVersion;
  const oldest = fresh ? undefined : sorted(view)[0]?.message_id;
  try {
    const page = await rest.history(roomId, { limit: PAGE, before: oldest });
    // A later load of the newest page, or a reset, came meanwhile: this answer may be of an older history.
    if (version !== view.historyVersion) return;
    if (fresh) {
      // Keep live messages newer than the page; the page replaces the rest.
      const newest = page.messages.at(-1)?.seq ?? 0;
      for (const [id, message] of view.messages) if ((message.seq ?? Infinity) <= newest) view.messages.delete(id);
    }
    for (const message of page.messages) view.messages.set(message.message_id, message);
    view.hasMore = page.has_more;
    if (fresh) view.historyFailures = 0;
  } catch (error) {
    if (version !== view.historyVersion) return;
    // The newest page is what a reload owes the room (messages it missed): asked again until it comes, told once.
    if (fresh && view.historyFailures++ === 0) toast(`Could not load the history: ${(error as Error).message}; trying again`);
    else if (!fresh) toast(`Could not load the history: ${(error as Error).message}`);
    if (fresh) {
      const retryInMs = Math.min(30_000, 1_000 * 2 ** (view.historyFailures - 1));
      view.historyRetry = setTimeout(() => views.get(roomId) === view && void loadHistory(roomId, true), retryInMs);
    }
  }
  if (roomId === selected) renderMessages(fresh);
}

ui.older.addEventListener('click', () => selected && void loadHistory(selected, false));

function addMessage(message: Message, live: boolean): void {
  const view = views.get(message.room_id);
  if (!view) return;
  view.messages.set(message.message_id, message);
  if (message.room_id === selected) renderMessages();
  else if (live && message.sender_id !== user) {
    view.unread += 1;
    renderRooms();
  }
}

function sorted(view: RoomView): Message[] {
  return [...view.messages.values()].sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || a.created_at.localeCompare(b.created_at));
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.input.value.trim();
  if (!text || !selected || !chat) return;
  ui.input.value = '';
  fitComposer();
  chat.send(selected, text).catch((error: Error) => toast(`Not sent: ${error.message}`));
});

// Enter sends, Shift+Enter starts a new line (not while an input method is composing a character).
ui.input.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  ui.composer.requestSubmit();
});

ui.input.addEventListener('input', () => {
  fitComposer();
  if (selected && ui.input.value) chat?.typing(selected);
});

/** The composer grows with its text, up to its CSS max-height (then it scrolls). */
function fitComposer(): void {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${ui.input.scrollHeight + ui.input.offsetHeight - ui.input.clientHeight}px`;
}

// ── Rendering ────────────────────────────────────────────────────────────

function showState(state: ConnectionState): void {
  ui.status.dataset.status = state.status;
  clearInterval(countdown);
  renderPresence();
  const label = (text: string) => (ui.statusLabel.textContent = text);
  switch (state.status) {
    case 'idle':
      return void label('Not connected');
    case 'connecting':
      return void label(state.attempt === 0 ? 'Connecting…' : 'Reconnecting…');
    case 'open':
      return void label('Connected');
    case 'offline':
      return void label('Offline — messages are kept and sent when you are back');
    case 'reconnecting': {
      const tick = () => label(`Connection lost — retrying in ${Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))} s`);
      tick();
      countdown = setInterval(tick, 250);
      return;
    }
    case 'closed':
      label(`Disconnected: ${state.message}`);
      if (state.reason === 'unauthorized' || state.reason === 'token_expired') signInAgain();
      return;
  }
}

function signInAgain(): void {
  if (!config.mint_tokens) return toast('Your token was refused: sign out and paste a new one.');
  mintToken(user).then(
    (fresh) => {
      token = fresh;
      localStorage.setItem(SESSION_KEY, JSON.stringify({ user, token }));
      chat?.setToken(fresh);
    },
    (error: Error) => toast(`Sign-in failed: ${error.message}`),
  );
}

function renderRooms(): void {
  ui.rooms.replaceChildren(
    ...[...views.values()].map((view) => {
      const item = el('li', view.room.room_id === selected ? 'active' : '');
      const button = el('button');
      button.type = 'button';
      button.dataset.roomId = view.room.room_id;
      button.title = roomLabel(view.room.room_id);
      button.append(el('span', 'hash', '#'), el('span', 'room-name', button.title));
      if (view.unread > 0) button.append(el('span', 'badge', String(view.unread)));
      button.addEventListener('click', () => select(view.room.room_id));
      item.append(button);
      return item;
    }),
  );
}

function renderHeader(): void {
  const view = selected ? views.get(selected) : undefined;
  if (!view) return;
  ui.roomTitle.textContent = ui.roomTitle.title = roomLabel(view.room.room_id);
  ui.addMember.hidden = view.room.owner_id !== user;
  renderPresence();
}

function renderPresence(): void {
  const view = selected ? views.get(selected) : undefined;
  if (!view || !chat) return;
  // Who is online is known only while connected: cut off, nobody is shown online, not even oneself.
  const online = new Set(chat.state.status === 'open' ? chat.online(view.room.room_id) : []);
  const people = [...new Set([...view.room.member_ids, ...online])].sort((a, b) => Number(online.has(b)) - Number(online.has(a)) || a.localeCompare(b));
  ui.presence.replaceChildren(
    ...people.map((person) => {
      const span = el('span', `person${online.has(person) ? ' online' : ''}`, person === user ? `${person} (you)` : person);
      span.title = online.has(person) ? 'online' : 'offline';
      return span;
    }),
  );
}

function renderTyping(): void {
  const users = selected && chat ? chat.typingUsers(selected) : [];
  ui.typing.textContent =
    users.length === 0 ? '' : users.length === 1 ? `${users[0]} is typing…` : `${users.slice(0, -1).join(', ')} and ${users.at(-1)} are typing…`;
}

function renderMessages(toBottom = false): void {
  const view = selected ? views.get(selected) : undefined;
  if (!view) return;
  const fromBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight;
  const items: Array<{ message: Message | OutboxEntry; pending: boolean }> = sorted(view).map((message) => ({ message, pending: false }));
  const confirmed = new Set(items.map((item) => (item.message as Message).client_msg_id).filter(Boolean));
  for (const entry of chat?.pending(view.room.room_id) ?? []) {
    if (!confirmed.has(entry.client_msg_id)) items.push({ message: entry, pending: true });
  }
  ui.list.replaceChildren(
    ...items.map(({ message, pending }, i) => {
      const sender = pending ? user : (message as Message).sender_id;
      const previous = items[i - 1];
      const next = items[i + 1];
      const senderOf = (item?: { message: Message | OutboxEntry; pending: boolean }) => item && (item.pending ? user : (item.message as Message).sender_id);
      const item = el('li', ['msg', sender === user ? 'mine' : '', pending ? 'pending' : '', (message as Message).is_deleted ? 'deleted' : '', senderOf(previous) !== sender ? 'first' : '', senderOf(next) !== sender ? 'last' : ''].filter(Boolean).join(' '));
      item.dataset.testid = pending ? 'pending' : 'message';
      if (!pending && (message as Message).seq !== undefined) item.dataset.seq = String((message as Message).seq);
      const avatar = el('span', 'avatar', sender.slice(0, 1));
      paintAvatar(avatar, sender);
      const bubble = el('div', 'bubble');
      bubble.style.setProperty('--hue', hue(sender));
      if (sender !== user && senderOf(previous) !== sender) bubble.append(el('span', 'who', sender));
      const content = (message as Message).is_deleted ? 'This message was deleted' : message.content;
      const text = el('span', 'content', content);
      text.dir = 'auto'; // right-to-left text laid out as such
      bubble.append(text);
      const time = el('time', '', pending ? 'sending…' : clock(message.created_at));
      time.setAttribute('datetime', message.created_at);
      bubble.append(time);
      item.append(avatar, bubble);
      return item;
    }),
  );
  ui.older.hidden = !view.hasMore;
  ui.notice.hidden = !view.notice;
  ui.notice.textContent = view.notice ?? '';
  ui.messages.scrollTop = toBottom || fromBottom < 40 ? ui.messages.scrollHeight : ui.messages.scrollHeight - ui.messages.clientHeight - fromBottom;
}

// ── Small helpers ────────────────────────────────────────────────────────

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function roomLabel(roomId: string): string {
  const room = views.get(roomId)?.room;
  return room?.room_name || (room ? room.member_ids.filter((m) => m !== user).join(', ') : '') || roomId.slice(0, 8);
}

function hue(name: string): string {
  let h = 0;
  for (const char of name) h = (h * 31 + char.charCodeAt(0)) % 360;
  return `hsl(${h} 55% 45%)`;
}

function paintAvatar(node: HTMLElement, name: string): void {
  node.textContent = name.slice(0, 1);
  node.style.setProperty('--hue', hue(name));
}

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A short notice; the three newest at most, so they never pile up over the page. */
function toast(text: string): void {
  const node = el('div', 'toast', text);
  ui.toasts.append(node);
  while (ui.toasts.childElementCount > 3) ui.toasts.firstElementChild?.remove();
  setTimeout(() => node.remove(), 5000);
}

function readSession(): { user: string; token: string } | undefined {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null') as { user?: string; token?: string } | null;
    return saved?.user && saved.token ? { user: saved.user, token: saved.token } : undefined;
  } catch {
    return undefined;
  }
}

function subjectOf(jwt: string): string {
  try {
    const payload = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: string };
    if (payload.sub) return payload.sub;
  } catch {
    // Reported below.
  }
  throw new Error('That does not look like a token');
}

window.addEventListener('beforeunload', () => clearInterval(roomsPoll));
main().catch((error: Error) => {
  ui.signin.hidden = false;
  ui.signinError.textContent = `The demo could not start: ${error.message}`;
});
