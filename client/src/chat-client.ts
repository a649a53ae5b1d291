import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { memoryOutboxStore, Outbox, type OutboxEntry } from './outbox.js';
import { ACCESS_TOKEN_PROTOCOL, CloseCode, type ClientFrame, type Cursor, type Message, type ServerFrame } from './protocol.js';
import { RoomState } from './room-state.js';
import { OPEN, type SocketFactory, type SocketLike } from './socket.js';
import { tokenExpiry } from './token.js';
import { ChatError, type ChatClientEvents, type ChatClientOptions, type CloseReason, type ConnectionState, type RoomSync } from './types.js';

/** Errors after which a queued message is tried again later instead of failing. */
const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal_error', 'not_joined']);
/** Errors after which a join is tried again later; any other refusal of a join is final. */
const JOIN_RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal_error']);
/** After the server said it dropped frames (the rate limit), unanswered joins go again this much later. */
const RATE_LIMITED_RETRY_MS = 1_000;
const MAX_IN_FLIGHT = 10;
/** Frames written per second by default (`maxFramesPerSecond`). */
const FRAMES_PER_SECOND = 18;
const CONNECT_TIMEOUT_MS = 10_000;
/** A peer's typing is forgotten this long after its latest start, if no stop arrives. */
const PEER_TYPING_MS = 6_000;

/**
 * A chat connection that never loses a message: it reconnects with backoff,
 * re-joins every room from where it stood, repairs gaps, delivers each
 * message once and in order, and queues what is sent while disconnected.
 */
export class ChatClient extends Emitter<ChatClientEvents> {
  private socket?: SocketLike;
  private token: string;
  private current: ConnectionState = { status: 'idle' };
  private userId?: string;
  private attempt = 0;
  /** Fresh tokens the server refused in a row: past three, the callback's tokens are not good and the client stops. */
  private refusals = 0;
  private readonly rooms = new Map<string, RoomState>();
  private readonly outbox: Outbox;
  private readonly options: Required<Pick<ChatClientOptions, 'reconnectBaseMs' | 'reconnectMaxMs' | 'ackTimeoutMs' | 'typingThrottleMs' | 'typingIdleMs'>> &
    ChatClientOptions;
  private timers: {
    retry?: ReturnType<typeof setTimeout>;
    heartbeat?: ReturnType<typeof setInterval>;
    refresh?: ReturnType<typeof setTimeout>;
    connect?: ReturnType<typeof setTimeout>;
    joins?: ReturnType<typeof setTimeout>;
    flush?: ReturnType<typeof setTimeout>;
    pace?: ReturnType<typeof setTimeout>;
  } = {};
  /** Frames waiting for the pace (`maxFramesPerSecond`) on this socket, in order, and the pace's token bucket. */
  private paced: string[] = [];
  private pace = { tokens: 0, at: 0 };
  /** When the pending `timers.flush` fires. */
  private flushAt = 0;
  private lastFrameAt = 0;
  private refs = 0;
  private readonly leaving = new Map<string, () => void>();
  private stopped = true;
  private readonly onOnline = () => this.stopped || this.state.status === 'open' || this.reconnectNow();
  private readonly onOffline = () => this.goOffline();

  constructor(options: ChatClientOptions) {
    super();
    this.options = { reconnectBaseMs: 500, reconnectMaxMs: 20_000, ackTimeoutMs: 10_000, typingThrottleMs: 2_000, typingIdleMs: 3_000, ...options };
    this.token = options.token;
    const rate = options.maxFramesPerSecond;
    if (rate !== undefined && !(Number.isFinite(rate) && rate >= 1)) throw new RangeError('maxFramesPerSecond must be a number of at least 1');
    this.outbox = new Outbox(options.outboxStore ?? memoryOutboxStore(), () => {
      this.emit('outbox', this.outbox.entries());
      this.flush();
    });
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Opens the connection; it stays up (reconnecting as needed) until `close()`. */
  connect(): void {
    this.stopped = false;
    const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
    target.addEventListener?.('online', this.onOnline);
    target.addEventListener?.('offline', this.onOffline);
    if (!this.socket) this.open();
  }

  /** Closes for good; queued messages stay queued (and stored). */
  close(): void {
    this.stopped = true;
    const target = globalThis as { removeEventListener?: (type: string, listener: () => void) => void };
    target.removeEventListener?.('online', this.onOnline);
    target.removeEventListener?.('offline', this.onOffline);
    this.drop(CloseCode.normal, 'client closed');
    this.clearTimers();
    this.outbox.close();
    this.setState({ status: 'closed', reason: 'client', message: 'Closed by the application' });
  }

  /** A new token: used at once (`refresh_token`) and for every later connection; resumes after a refusal. */
  setToken(token: string): void {
    this.token = token;
    if (this.socket && this.state.status === 'open') this.write({ type: 'refresh_token', token, ref: this.ref('t') });
    this.scheduleRefresh();
    if (this.state.status === 'closed' && this.state.reason !== 'client') {
      this.stopped = false;
      this.reconnectNow();
    }
  }

  // ── Rooms ─────────────────────────────────────────────────────────────────

  /**
   * Joins a room, now or as soon as connected, and keeps it joined across
   * reconnects. Pass `since` (a cursor saved earlier) to get what was missed.
   */
  join(roomId: string, options: { since?: Cursor } = {}): Promise<RoomSync> {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new RoomState(roomId, options.since);
      this.rooms.set(roomId, room);
    }
    const joinedRoom = room;
    const result = new Promise<RoomSync>((resolve, reject) => joinedRoom.waiters.push({ resolve, reject }));
    if (this.isOpen() && !room.joined && room.waiters.length === 1) this.sendJoin(room);
    else if (room.joined) this.settleJoin(room, 'recovered');
    return result;
  }

  /** Leaves a room; its queued messages are dropped. */
  async leave(roomId: string): Promise<void> {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.forgetRoom(room);
    for (const entry of this.outbox.entries(roomId)) this.outbox.fail(entry.client_msg_id, new ChatError('not_joined', 'The room was left', roomId));
    this.emit('outbox', this.outbox.entries());
    // A join still unanswered is left too: the server answers it first, then the leave.
    if (this.isOpen() && (room.joined || room.joinSentAt !== undefined)) {
      const done = new Promise<void>((resolve) => this.leaving.set(roomId, resolve));
      this.write({ type: 'leave_room', room_id: roomId });
      await done;
    }
    this.emit('left', { roomId, reason: 'left' });
  }

  /** The rooms kept joined. */
  joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /** Where the client stands in a room: save it to resume with `join(roomId, { since })` after a restart. */
  cursor(roomId: string): Cursor | undefined {
    return this.rooms.get(roomId)?.cursor;
  }

  online(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.online ?? [])];
  }

  typingUsers(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.typing.keys() ?? [])];
  }

  // ── Sending ───────────────────────────────────────────────────────────────

  /**
   * Sends a message, now or after the next reconnect. Resolves once with the
   * server's message; rejects only when the server refuses it for good
   * (too long, not a member) or the room is left, and at once for a room not
   * kept joined (`join` it first: nothing would ever send it).
   */
  send(roomId: string, content: string, options: { messageType?: string; parentMessageId?: string } = {}): Promise<Message> {
    if (!this.rooms.has(roomId)) return Promise.reject(new ChatError('not_joined', 'Join the room before sending to it', roomId));
    const entry: OutboxEntry = {
      client_msg_id: randomId(),
      room_id: roomId,
      content,
      created_at: new Date().toISOString(),
      ...(options.messageType ? { message_type: options.messageType } : {}),
      ...(options.parentMessageId ? { parent_message_id: options.parentMessageId } : {}),
    };
    const sent = this.outbox.add(entry);
    this.emit('outbox', this.outbox.entries());
    this.stopTyping(roomId, false);
    this.flush();
    return sent;
  }

  /** Messages waiting for the server's confirmation, oldest first. */
  pending(roomId?: string): OutboxEntry[] {
    return this.outbox.entries(roomId);
  }

  /** Call on every keystroke: starts are sent at most every `typingThrottleMs`, a stop after `typingIdleMs` of quiet. */
  typing(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    const now = Date.now();
    if (room.ownTyping) clearTimeout(room.ownTyping.stop);
    const start = !room.ownTyping || now - room.ownTyping.sentAt >= this.options.typingThrottleMs;
    if (start && room.joined) this.write({ type: 'typing', room_id: roomId, is_typing: true });
    const sentAt = start ? now : room.ownTyping!.sentAt;
    room.ownTyping = { sentAt, stop: setTimeout(() => this.stopTyping(roomId), this.options.typingIdleMs) };
  }

  /** Says the user stopped typing (sending a message stops it on the server already). */
  stopTyping(roomId: string, tell = true): void {
    const room = this.rooms.get(roomId);
    if (!room?.ownTyping) return;
    clearTimeout(room.ownTyping.stop);
    room.ownTyping = undefined;
    if (tell && room.joined) this.write({ type: 'typing', room_id: roomId, is_typing: false });
  }

  // ── The connection ────────────────────────────────────────────────────────

  private open(): void {
    clearTimeout(this.timers.retry);
    if (isOffline()) return this.goOffline();
    const expiry = tokenExpiry(this.token);
    if (expiry !== null && expiry <= Date.now()) {
      void this.afterRefusal('token_expired', 'The token has expired');
      return;
    }
    this.setState({ status: 'connecting', attempt: this.attempt });
    const Impl = this.options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
    if (!Impl) throw new Error('No WebSocket implementation: pass one as the `WebSocket` option (e.g. the `ws` package)');
    const viaQuery = this.options.tokenIn === 'query';
    const url = viaQuery ? `${this.options.url}${this.options.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.token)}` : this.options.url;
    let socket: SocketLike;
    try {
      socket = viaQuery ? new Impl(url) : new Impl(url, [ACCESS_TOKEN_PROTOCOL, this.token]);
    } catch (error) {
      return this.scheduleReconnect(error instanceof Error ? error.message : 'cannot connect');
    }
    this.socket = socket;
    let opened = false;
    let failure: string | undefined;
    this.timers.connect = setTimeout(() => this.socket === socket && this.lost('no answer to the connection'), CONNECT_TIMEOUT_MS);
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.lastFrameAt = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      if (frame.type === 'connected') opened = true;
      this.handle(frame);
    };
    socket.onerror = (event) => {
      failure = event.message ?? (event.error instanceof Error ? event.error.message : undefined);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.afterSocket();
      if (this.stopped) return;
      if (!opened) return void this.handshakeFailed(failure);
      if (event.code === CloseCode.policy && event.reason === 'token_expired') {
        return void this.afterRefusal('token_expired', 'The token expired');
      }
      if (event.code === CloseCode.policy) {
        return this.stop('policy', `Closed by the server: ${event.reason || 'policy'}`);
      }
      this.scheduleReconnect(describeClose(event.code, event.reason));
    };
  }

  /** The upgrade was refused or never answered: find out whether the token is the reason. */
  private async handshakeFailed(failure: string | undefined): Promise<void> {
    let status = Number(/\b([45]\d\d)\b/.exec(failure ?? '')?.[1]) || undefined;
    // Browsers hide the status of a refused upgrade; the REST API answers the same token with it.
    if (status === undefined && typeof fetch === 'function' && !isOffline()) status = await this.probe();
    if (this.stopped || this.socket) return;
    const expired = (tokenExpiry(this.token) ?? Infinity) <= Date.now();
    if (status === 401 || (status === 403 && expired)) {
      return this.afterRefusal(expired ? 'token_expired' : 'unauthorized', expired ? 'The token has expired' : 'The token was refused');
    }
    if (status === 403) return this.stop('forbidden', 'The server refused this connection (origin not allowed?)');
    this.scheduleReconnect(status ? `HTTP ${status}` : failure ?? 'cannot connect');
  }

  /** The REST API's answer to the token (401 or 403), or undefined; a server that does not answer within the connect timeout counts as no answer. */
  private async probe(): Promise<number | undefined> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), CONNECT_TIMEOUT_MS);
    try {
      const base = this.options.url.replace(/^ws/, 'http').replace(/\/ws(\?.*)?$/, '');
      const response = await fetch(`${base}/rooms`, { headers: { Authorization: `Bearer ${this.token}` }, signal: abort.signal });
      return response.status === 401 || response.status === 403 ? response.status : undefined;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The token was refused: a fresh one from the callback, or stop until
   * `setToken`. A callback that fails (the main backend away too) is asked
   * again after the reconnect delay, for as long as it takes.
   */
  private async afterRefusal(reason: 'token_expired' | 'unauthorized', message: string): Promise<void> {
    if (this.options.refreshToken && this.refusals < 3) {
      let fresh: string;
      try {
        fresh = await this.options.refreshToken();
      } catch (error) {
        this.emit('error', { code: 'token_refresh_failed', message: error instanceof Error ? error.message : String(error) });
        // Only the callback can help: it is asked again after the reconnect delay, without a connection that would be refused.
        return this.scheduleReconnect('token_refresh_failed', () => void this.afterRefusal(reason, message));
      }
      if (fresh && fresh !== this.token) {
        this.token = fresh;
        this.refusals += 1;
        if (!this.stopped) this.open();
        return;
      }
    }
    this.stop(reason, message);
  }

  private closedByApp(): boolean {
    return this.state.status === 'closed' && this.state.reason === 'client';
  }

  private stop(reason: CloseReason, message: string): void {
    this.stopped = true;
    this.clearTimers();
    this.setState({ status: 'closed', reason, message });
  }

  /** `next` (by default, connecting again) after the backoff delay. */
  private scheduleReconnect(reason: string, next: () => void = () => this.open()): void {
    if (this.stopped) return;
    if (isOffline()) return this.goOffline();
    const retryInMs = backoffDelay(this.attempt, this.options.reconnectBaseMs, this.options.reconnectMaxMs);
    this.attempt += 1;
    this.setState({ status: 'reconnecting', attempt: this.attempt, retryInMs, retryAt: Date.now() + retryInMs, reason });
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(next, retryInMs);
  }

  private reconnectNow(): void {
    if (this.stopped) return;
    this.attempt = 0;
    this.drop(4000, 'reconnecting');
    this.open();
  }

  /** The browser says the network is gone: wait for it (with a slow retry in case it is wrong). */
  private goOffline(): void {
    if (this.stopped) return;
    this.drop(4000, 'offline');
    this.setState({ status: 'offline' });
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.open(), this.options.reconnectMaxMs);
  }

  /** The connection is dead (no frame for too long): cut it and reconnect. */
  private lost(reason: string): void {
    this.drop(4000, reason);
    this.scheduleReconnect(reason);
  }

  private drop(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    try {
      socket.close(code, reason);
    } catch {
      // Closing a socket that never opened may throw in some implementations.
    }
    this.afterSocket();
  }

  /** Whatever was tied to the socket that just went away. */
  private afterSocket(): void {
    clearInterval(this.timers.heartbeat);
    // Frames not yet written were for that socket: joins and messages go again on the next.
    clearTimeout(this.timers.pace);
    this.timers.pace = undefined;
    this.paced = [];
    clearTimeout(this.timers.connect);
    clearTimeout(this.timers.joins);
    for (const room of this.rooms.values()) {
      room.joined = false;
      room.resyncing = false;
      room.recoveringTo = undefined;
      // The next `connected` sends every join afresh.
      room.joinSentAt = undefined;
      room.joinDueAt = undefined;
      room.joinRefs = [];
      room.staleJoinRefs.clear();
      // Nobody is known to be typing without a connection to say so.
      if (room.typing.size > 0) {
        for (const timer of room.typing.values()) clearTimeout(timer);
        room.typing.clear();
        this.emit('typing', { roomId: room.id, users: [] });
      }
    }
    for (const resolve of this.leaving.values()) resolve();
    this.leaving.clear();
    this.outbox.resetSent();
  }

  private clearTimers(): void {
    clearTimeout(this.timers.flush);
    this.timers.flush = undefined;
    clearTimeout(this.timers.joins);
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.refresh);
    clearTimeout(this.timers.connect);
    clearTimeout(this.timers.pace);
    this.timers.pace = undefined;
  }

  private isOpen(): boolean {
    return this.socket?.readyState === OPEN && this.current.status === 'open';
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    this.emit('state', state);
  }

  /** Writes in order, at most `maxFramesPerSecond` (bursts of twice that); the rest waits its turn. */
  private write(frame: ClientFrame): void {
    if (this.socket?.readyState !== OPEN) return;
    this.paced.push(JSON.stringify(frame));
    this.writePaced();
  }

  private writePaced(): void {
    const rate = this.options.maxFramesPerSecond ?? FRAMES_PER_SECOND;
    // A monotonic clock: a wall clock set back would hold every frame for as long.
    const now = performance.now();
    this.pace.tokens = Math.min(2 * rate, this.pace.tokens + ((now - this.pace.at) * rate) / 1000);
    this.pace.at = now;
    while (this.paced.length > 0 && this.pace.tokens >= 1 && this.socket?.readyState === OPEN) {
      this.socket.send(this.paced.shift()!);
      this.pace.tokens -= 1;
    }
    if (this.paced.length > 0 && !this.timers.pace) {
      this.timers.pace = setTimeout(() => {
        this.timers.pace = undefined;
        this.writePaced();
      }, Math.ceil(((1 - this.pace.tokens) * 1000) / rate));
    }
  }

  private ref(kind: string): string {
    return `${kind}${++this.refs}`;
  }

  private startHeartbeat(serverIntervalMs: number): void {
    const every = this.options.pingIntervalMs ?? serverIntervalMs;
    clearInterval(this.timers.heartbeat);
    this.timers.heartbeat = setInterval(() => {
      if (Date.now() - this.lastFrameAt > 2 * every) return this.lost('no answer from the server');
      this.write({ type: 'ping' });
      this.retryJoins();
      this.flush();
    }, every);
  }

  /** Asks for a fresh token a while before this one expires; a failed ask is made again, sooner each time, until the token expires. */
  private scheduleRefresh(afterFailure = false): void {
    clearTimeout(this.timers.refresh);
    const expiry = tokenExpiry(this.token);
    if (expiry === null || !this.options.refreshToken || this.closedByApp()) return;
    const remaining = expiry - Date.now();
    const lead = Math.min(60_000, Math.max(1_000, remaining * 0.2));
    let wait = afterFailure ? Math.min(30_000, Math.max(1_000, remaining / 4)) : Math.max(0, remaining - lead);
    if (afterFailure) {
      // At the expiry, the refusal that follows asks again; close to it, one more ask still fits before it.
      if (remaining < 200) return;
      if (wait >= remaining - 200) wait = remaining / 2;
    }
    this.timers.refresh = setTimeout(async () => {
      try {
        const fresh = await this.options.refreshToken!();
        if (fresh && fresh !== this.token && !this.closedByApp()) this.setToken(fresh);
      } catch (error) {
        this.emit('error', { code: 'token_refresh_failed', message: error instanceof Error ? error.message : String(error) });
        if (!this.stopped) this.scheduleRefresh(true);
      }
    }, wait);
  }

  // ── Frames from the server ───────────────────────────────────────────────

  private handle(frame: ServerFrame): void {
    switch (frame.type) {
      case 'connected':
        clearTimeout(this.timers.connect);
        // The server's bucket for this connection starts full: so does ours.
        this.pace = { tokens: 2 * (this.options.maxFramesPerSecond ?? FRAMES_PER_SECOND), at: performance.now() };
        this.attempt = 0;
        this.refusals = 0;
        this.userId = frame.user_id;
        this.setState({ status: 'open', userId: frame.user_id, connectionId: frame.connection_id });
        this.startHeartbeat(frame.heartbeat_interval_ms);
        this.scheduleRefresh();
        for (const room of this.rooms.values()) this.sendJoin(room);
        return;
      case 'joined':
        return this.onJoined(frame);
      case 'left':
        return this.onLeft(frame.room_id, frame.reason);
      case 'message':
        return this.onMessage(frame.message);
      case 'message_updated':
        if (this.rooms.has(frame.message.room_id)) this.emit('message_updated', frame.message);
        return;
      case 'message_deleted':
        if (this.rooms.has(frame.room_id)) this.emit('message_deleted', { roomId: frame.room_id, messageId: frame.message_id });
        return;
      case 'history_reset':
        return this.onHistoryReset(frame);
      case 'message_ack':
        if (frame.client_msg_id) this.confirm(frame.client_msg_id, frame.message);
        return this.flush();
      case 'typing':
        return this.peerTyping(frame.room_id, frame.user_id, true);
      case 'typing_stopped':
        return this.peerTyping(frame.room_id, frame.user_id, false);
      case 'presence':
        return this.onPresence(frame.room_id, frame.user_id, frame.status === 'online');
      case 'presence_state': {
        const room = this.rooms.get(frame.room_id);
        if (!room?.joined) return;
        this.takePresence(room, frame);
        return this.announcePresence(room);
      }
      case 'error':
        return this.onError(frame);
      default:
        return;
    }
  }

  private sendJoin(room: RoomState): void {
    const since = room.cursor;
    const ref = this.ref('j');
    room.joinSentAt = Date.now();
    room.joinDueAt = undefined;
    room.joinRefs.push(ref);
    this.write({ type: 'join_room', room_id: room.id, ...(since ? { since } : {}), ref });
  }

  /**
   * Sends again the joins that are due: refused for now (the store away,
   * frames over the rate limit) or unanswered for `ackTimeoutMs`. A room
   * whose join is lost this way would otherwise stay silently unjoined on an
   * open connection: no messages in, its queue never sent.
   */
  private retryJoins(): void {
    clearTimeout(this.timers.joins);
    if (!this.isOpen()) return;
    const now = Date.now();
    let next = Infinity;
    for (const room of this.rooms.values()) {
      if (room.joined && !room.resyncing) continue;
      const unanswered = room.joinSentAt !== undefined && now - room.joinSentAt >= this.options.ackTimeoutMs;
      if (unanswered || (room.joinDueAt !== undefined && room.joinDueAt <= now)) this.sendJoin(room);
      else if (room.joinDueAt !== undefined) next = Math.min(next, room.joinDueAt);
    }
    if (next < Infinity) this.timers.joins = setTimeout(() => this.retryJoins(), next - now);
  }

  /** A join that got "not now" goes again after a backoff; until then the room is not joined. */
  private joinLater(room: RoomState, delayMs: number): void {
    room.joined = false;
    room.resyncing = false;
    room.joinSentAt = undefined;
    room.joinDueAt = Date.now() + delayMs;
    this.retryJoins();
  }

  private onJoined(frame: Extract<ServerFrame, { type: 'joined' }>): void {
    const room = this.rooms.get(frame.room_id);
    if (!room) return;
    // A join sent again (unanswered for a while, or perhaps dropped) and answered after all: the room is joined already.
    if (frame.ref !== undefined && room.staleJoinRefs.delete(frame.ref)) return;
    for (const ref of room.joinRefs) if (ref !== frame.ref) room.staleJoinRefs.add(ref);
    room.joinRefs = [];
    const hadCursor = room.cursor !== undefined;
    const status: RoomSync['status'] = !hadCursor ? 'fresh' : frame.recovered ? 'recovered' : 'reload';
    // Recovered messages follow this frame and move the cursor themselves.
    if (status !== 'recovered') room.reset({ seq: frame.seq, epoch: frame.epoch });
    else if (frame.seq > (room.cursor?.seq ?? 0)) room.recoveringTo = frame.seq;
    room.joined = true;
    room.resyncing = false;
    room.joinSentAt = undefined;
    room.joinDueAt = undefined;
    room.joinRefusals = 0;
    this.takePresence(room, frame);
    this.settleJoin(room, status);
    this.announcePresence(room);
    this.flush();
  }

  /** The room's history started again under a live join: count from the new epoch, and tell the app to reload. */
  private onHistoryReset(frame: Extract<ServerFrame, { type: 'history_reset' }>): void {
    const room = this.rooms.get(frame.room_id);
    // A join that already answered the new epoch (it raced the reset) counts from there already.
    if (!room?.joined || room.cursor?.epoch === frame.epoch) return;
    room.reset({ seq: frame.seq, epoch: frame.epoch });
    this.emit('joined', { roomId: room.id, status: 'reload', cursor: { seq: frame.seq, epoch: frame.epoch }, online: [...room.online], typing: [...room.typing.keys()] });
  }

  private settleJoin(room: RoomState, status: RoomSync['status']): void {
    const sync: RoomSync = {
      roomId: room.id,
      status,
      cursor: room.cursor ?? { seq: 0, epoch: '' },
      online: [...room.online],
      typing: [...room.typing.keys()],
    };
    for (const waiter of room.waiters.splice(0)) waiter.resolve(sync);
    this.emit('joined', sync);
  }

  private onLeft(roomId: string, reason?: 'removed'): void {
    const done = this.leaving.get(roomId);
    if (done) {
      this.leaving.delete(roomId);
      return done();
    }
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.forgetRoom(room);
    for (const entry of this.outbox.entries(roomId)) this.outbox.fail(entry.client_msg_id, new ChatError('not_a_member', 'Removed from the room', roomId));
    this.emit('outbox', this.outbox.entries());
    this.emit('left', { roomId, reason: reason ?? 'left' });
  }

  private forgetRoom(room: RoomState, error = new ChatError('not_joined', 'The room was left', room.id)): void {
    this.rooms.delete(room.id);
    for (const timer of room.typing.values()) clearTimeout(timer);
    if (room.ownTyping) clearTimeout(room.ownTyping.stop);
    for (const waiter of room.waiters.splice(0)) waiter.reject(error);
  }

  /** Delivers in `seq` order exactly once; a message past a gap waits while the gap is fetched. */
  private onMessage(message: Message): void {
    const room = this.rooms.get(message.room_id);
    if (!room) return;
    const { due, gap } = room.accept(message);
    for (const next of due) this.deliver(room, next);
    if (gap) this.repairGap(room);
    if (room.recoveringTo !== undefined && (room.cursor?.seq ?? 0) >= room.recoveringTo) {
      room.recoveringTo = undefined;
      this.flush();
    }
  }

  private deliver(room: RoomState, message: Message): void {
    if (room.typing.has(message.sender_id)) this.peerTyping(room.id, message.sender_id, false);
    this.emit('message', message);
    if (message.client_msg_id && message.sender_id === this.userId) this.confirm(message.client_msg_id, message);
  }

  /**
   * Join again with `since`, without leaving: the server sends exactly what
   * is missing, and the user stays online in the room for everyone else.
   */
  private repairGap(room: RoomState): void {
    if (room.resyncing || !room.joined) return;
    room.resyncing = true;
    this.sendJoin(room);
  }

  private confirm(clientMsgId: string, message: Message): void {
    const entry = this.outbox.confirm(clientMsgId, message);
    if (!entry) return;
    this.emit('sent', { entry, message });
    this.emit('outbox', this.outbox.entries());
  }

  /** A flush after `delayMs` (one timer: the earliest asked for). */
  private flushIn(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.timers.flush && this.flushAt <= at) return;
    clearTimeout(this.timers.flush);
    this.flushAt = at;
    this.timers.flush = setTimeout(() => {
      this.timers.flush = undefined;
      this.flush();
    }, delayMs);
  }

  /** Writes what is due of the queue to joined rooms, oldest first, a few at a time. */
  private flush(): void {
    if (!this.isOpen()) return;
    const now = Date.now();
    for (const room of this.rooms.values()) {
      if (!room.joined || room.recoveringTo !== undefined) continue;
      for (const entry of this.outbox.due(room.id, now, this.options.ackTimeoutMs)) {
        if (this.outbox.inFlight(now, this.options.ackTimeoutMs) >= MAX_IN_FLIGHT) return;
        this.outbox.markSent(entry.client_msg_id, now);
        this.write({
          type: 'send_message',
          room_id: entry.room_id,
          content: entry.content,
          client_msg_id: entry.client_msg_id,
          ...(entry.message_type ? { message_type: entry.message_type } : {}),
          ...(entry.parent_message_id ? { parent_message_id: entry.parent_message_id } : {}),
          ref: `s:${entry.client_msg_id}`,
        });
      }
    }
  }

  private onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const ref = frame.ref ?? '';
    if (ref.startsWith('s:')) {
      const clientMsgId = ref.slice(2);
      if (RETRYABLE.has(frame.code)) {
        // Tried again soon (the store is often back within a second), backing off up to the ack timeout.
        const { reconnectBaseMs, ackTimeoutMs } = this.options;
        const delay = this.outbox.retryLater(clientMsgId, Date.now(), (refusals) =>
          Math.min(ackTimeoutMs, reconnectBaseMs / 2 + backoffDelay(refusals - 1, reconnectBaseMs, ackTimeoutMs)),
        );
        if (delay !== undefined) this.flushIn(delay);
        return;
      }
      const entry = this.outbox.fail(clientMsgId, new ChatError(frame.code, frame.message, frame.room_id));
      if (entry) this.emit('outbox', this.outbox.entries());
      return;
    }
    if (!frame.ref && frame.code === 'rate_limited') {
      // Frames were dropped, joins and messages perhaps among them: what is still unanswered goes again once the
      // rate allows (a message the server did take is answered with its original).
      const delay = RATE_LIMITED_RETRY_MS + Math.floor(Math.random() * RATE_LIMITED_RETRY_MS);
      for (const room of this.rooms.values()) if (room.joinSentAt !== undefined) this.joinLater(room, delay);
      if (this.outbox.retryUnanswered(Date.now() + delay)) this.flushIn(delay);
    }
    if (ref.startsWith('j')) {
      // The room is named by the error, or else by the join's ref.
      const room = frame.room_id
        ? this.rooms.get(frame.room_id)
        : [...this.rooms.values()].find((r) => r.joinRefs.includes(ref) || r.staleJoinRefs.has(ref));
      // Whether or not another answer was taken: the server undoes a failed join, so the room is not joined now.
      room?.staleJoinRefs.delete(ref);
      if (room && JOIN_RETRYABLE.has(frame.code)) {
        room.joinRefusals += 1;
        const { reconnectBaseMs, reconnectMaxMs } = this.options;
        this.joinLater(room, reconnectBaseMs + backoffDelay(room.joinRefusals, reconnectBaseMs, reconnectMaxMs));
      } else if (room && ['not_a_member', 'too_many_rooms', 'invalid_frame'].includes(frame.code)) {
        const error = new ChatError(frame.code, frame.message, room.id);
        for (const entry of this.outbox.entries(room.id)) this.outbox.fail(entry.client_msg_id, error);
        // A waiting `join()` rejects with the error, and `left` says why (also after a re-join).
        this.forgetRoom(room, error);
        this.emit('outbox', this.outbox.entries());
        this.emit('left', { roomId: room.id, reason: 'refused', error: { code: frame.code, message: frame.message } });
        return;
      }
    }
    this.emit('error', { code: frame.code, message: frame.message, ...(frame.room_id ? { roomId: frame.room_id } : {}) });
  }

  /** Who is online and typing in the room, as a whole (`joined`, `presence_state`). */
  private takePresence(room: RoomState, state: { online: string[]; typing: string[] }): void {
    room.online = new Set(state.online);
    for (const timer of room.typing.values()) clearTimeout(timer);
    room.typing = new Map(state.typing.filter((u) => u !== this.userId).map((u) => [u, this.typingTimer(room, u)]));
  }

  private announcePresence(room: RoomState): void {
    this.emit('presence', { roomId: room.id, online: [...room.online] });
    this.emit('typing', { roomId: room.id, users: [...room.typing.keys()] });
  }

  private onPresence(roomId: string, userId: string, online: boolean): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    if (online) room.online.add(userId);
    else room.online.delete(userId);
    this.emit('presence', { roomId, online: [...room.online] });
  }

  private peerTyping(roomId: string, userId: string, typing: boolean): void {
    const room = this.rooms.get(roomId);
    if (!room || userId === this.userId) return;
    clearTimeout(room.typing.get(userId));
    if (typing) room.typing.set(userId, this.typingTimer(room, userId));
    else if (!room.typing.delete(userId)) return;
    this.emit('typing', { roomId, users: [...room.typing.keys()] });
  }

  private typingTimer(room: RoomState, userId: string): ReturnType<typeof setTimeout> {
    return setTimeout(() => this.peerTyping(room.id, userId, false), PEER_TYPING_MS);
  }
}

function isOffline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
}

function describeClose(code: number, reason: string): string {
  if (code === CloseCode.restarting) return 'the server is restarting';
  return reason ? `closed (${code} ${reason})` : `connection lost (${code})`;
}

function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
