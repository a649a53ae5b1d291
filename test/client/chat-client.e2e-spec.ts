// The client library in Node against the real service: reconnects, recovery,
// the outbox, refusals, typing and presence. No mocked socket.
import WebSocket from 'ws';
import { ChatClient, type ConnectionState, type Message, type OutboxEntry, type OutboxStore, type SocketFactory } from '../../client/src/index.js';
import { freePort } from '../../scripts/processes.mjs';
import { redisEnv } from '../support/instances.js';
import { LinkProxy } from '../support/redis.js';
import { createRoom, post } from '../support/rest.js';
import { token } from '../support/tokens.js';
import { startService, waitFor, type Service } from './support.js';

const clients: ChatClient[] = [];
const services: Service[] = [];

function client(url: string, user: string, extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) {
  const chat = new ChatClient({ url, token: token(user), WebSocket: WebSocket as unknown as SocketFactory, reconnectBaseMs: 100, reconnectMaxMs: 500, ...extra });
  const seen: Message[] = [];
  const states: ConnectionState[] = [];
  chat.on('message', (message) => seen.push(message));
  chat.on('state', (state) => states.push(state));
  clients.push(chat);
  return { chat, seen, states, contents: () => seen.map((m) => m.content) };
}

async function start(overrides = {}, port?: number): Promise<Service> {
  const service = await startService(overrides, port);
  services.push(service);
  return service;
}

const isOpen = (chat: ChatClient) => chat.state.status === 'open';

afterEach(async () => {
  for (const chat of clients.splice(0)) chat.close();
  await Promise.all(services.splice(0).map((service) => service.close().catch(() => undefined)));
});

describe('ChatClient', () => {
  it('delivers messages once and in order to every member, and resolves send with the server message', async () => {
    const service = await start();
    const room = await createRoom(service.http, 'alice', ['bob']);
    const alice = client(service.ws, 'alice');
    const bob = client(service.ws, 'bob');
    alice.chat.connect();
    bob.chat.connect();
    expect((await alice.chat.join(room)).status).toBe('fresh');
    await bob.chat.join(room);

    const sent = await Promise.all(['one', 'two', 'three'].map((text) => alice.chat.send(room, text)));
    expect(sent.map((m) => m.seq)).toEqual([1, 2, 3]);
    await waitFor(() => bob.seen.length === 3 && alice.seen.length === 3, 'both see three messages');
    expect(bob.contents()).toEqual(['one', 'two', 'three']);
    expect(alice.contents()).toEqual(['one', 'two', 'three']);
    expect(alice.chat.pending()).toEqual([]);
    expect(alice.chat.cursor(room)?.seq).toBe(3);
  });

  it('queues messages sent before connecting and flushes them in order once joined', async () => {
    const service = await start();
    const room = await createRoom(service.http, 'alice', ['bob']);
    const alice = client(service.ws, 'alice');
    const bob = client(service.ws, 'bob');
    bob.chat.connect();
    await bob.chat.join(room);

    void alice.chat.join(room);
    const sends = ['a', 'b', 'c'].map((text) => alice.chat.send(room, text));
    expect(alice.chat.pending(room).map((e) => e.content)).toEqual(['a', 'b', 'c']);
    alice.chat.connect();
    const messages = await Promise.all(sends);
    expect(messages.map((m) => m.content)).toEqual(['a', 'b', 'c']);
    await waitFor(() => bob.seen.length === 3, 'bob sees the queued messages');
    expect(bob.contents()).toEqual(['a', 'b', 'c']);
  });

  it('re-sends a queued message after a reconnect without duplicating it (the server deduplicates)', async () => {
    const service = await start();
    const room = await createRoom(service.http, 'alice', ['bob']);
    const saved: OutboxEntry[] = [
      { client_msg_id: 'fixed-id-1', room_id: room, content: 'from a previous run', created_at: new Date().toISOString() },
    ];
    const store: OutboxStore = { load: () => saved, save: () => undefined };
    // A message the server already has under that id, as if the ack had been lost.
    const first = client(service.ws, 'alice');
    first.chat.connect();
    await first.chat.join(room);
    const original = await new Promise<Message>((resolve) => {
      const ws = new WebSocket(`${service.ws}?token=${token('alice')}`);
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; message?: Message };
        if (frame.type === 'connected') ws.send(JSON.stringify({ type: 'join_room', room_id: room }));
        if (frame.type === 'joined') ws.send(JSON.stringify({ type: 'send_message', room_id: room, content: 'from a previous run', client_msg_id: 'fixed-id-1' }));
        if (frame.type === 'message_ack') {
          ws.close();
          resolve(frame.message!);
        }
      });
    });

    const restarted = client(service.ws, 'alice', { outboxStore: store });
    const sent: Message[] = [];
    restarted.chat.on('sent', ({ message }) => sent.push(message));
    restarted.chat.connect();
    await restarted.chat.join(room);
    await waitFor(() => sent.length === 1, 'the stored entry confirmed');
    expect(sent[0].message_id).toBe(original.message_id);
    expect(restarted.chat.pending()).toEqual([]);
    await restarted.chat.send(room, 'after');
    await waitFor(() => first.seen.length === 2, 'the first client sees two messages');
    expect(first.contents()).toEqual(['from a previous run', 'after']);
  });

  it('reconnects after the server restarts and recovers what it missed from another instance', async () => {
    const env = await redisEnv();
    const port = await freePort();
    const first = await start(env, port);
    const other = await start(env);
    const room = await createRoom(other.http, 'alice', ['bob']);
    const alice = client(first.ws, 'alice');
    const bob = client(other.ws, 'bob');
    alice.chat.connect();
    bob.chat.connect();
    await alice.chat.join(room);
    await bob.chat.join(room);
    await bob.chat.send(room, 'before');
    await waitFor(() => alice.seen.length === 1, 'alice sees the first message');

    await first.close();
    services.splice(services.indexOf(first), 1);
    await waitFor(() => alice.chat.state.status === 'reconnecting', 'alice reconnecting');
    for (const text of ['missed 1', 'missed 2', 'missed 3']) await bob.chat.send(room, text);
    // Alice also writes while disconnected.
    const queued = alice.chat.send(room, 'written offline');

    const rejoined = new Promise((resolve) => alice.chat.on('joined', resolve));
    await start(env, port);
    expect(await rejoined).toMatchObject({ roomId: room, status: 'recovered' });
    await queued;
    await waitFor(() => bob.seen.length === 5 && alice.seen.length === 5, 'everyone sees five messages');
    expect(alice.contents()).toEqual(['before', 'missed 1', 'missed 2', 'missed 3', 'written offline']);
    expect(bob.contents()).toEqual(alice.contents());
    expect(alice.seen.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(alice.states.map((s) => s.status)).toEqual(expect.arrayContaining(['connecting', 'open', 'reconnecting']));
  });

  it('says "reload" when it missed more than the server recovers, and carries on from the new head', async () => {
    const env = { ...(await redisEnv()), RECOVERY_MAX_MESSAGES: 2 };
    const port = await freePort();
    const first = await start(env, port);
    const other = await start(env);
    const room = await createRoom(other.http, 'alice', ['bob']);
    const alice = client(first.ws, 'alice');
    const bob = client(other.ws, 'bob');
    alice.chat.connect();
    bob.chat.connect();
    await alice.chat.join(room);
    await bob.chat.join(room);
    await first.close();
    services.splice(services.indexOf(first), 1);
    for (const text of ['1', '2', '3']) await bob.chat.send(room, text);
    const rejoined = new Promise((resolve) => alice.chat.on('joined', resolve));
    await start(env, port);
    expect(await rejoined).toMatchObject({ roomId: room, status: 'reload', cursor: { seq: 3 } });
    await bob.chat.send(room, 'live');
    await waitFor(() => alice.seen.length === 1, 'alice sees the live message');
    expect(alice.contents()).toEqual(['live']);
  });

  it('reports a room it can no longer join (an embedded restart forgot it) as left', async () => {
    const port = await freePort();
    const first = await start({}, port);
    const room = await createRoom(first.http, 'alice', []);
    const alice = client(first.ws, 'alice');
    alice.chat.connect();
    await alice.chat.join(room);
    await first.close();
    services.splice(0);
    const left = new Promise((resolve) => alice.chat.on('left', resolve));
    await start({}, port);
    expect(await left).toMatchObject({ roomId: room, reason: 'refused', error: { code: 'not_a_member' } });
    expect(alice.chat.joinedRooms()).toEqual([]);
  });

  it('stops with a clear state on a refused token and resumes with a new one', async () => {
    const service = await start();
    const alice = client(service.ws, 'alice', { token: 'not-a-jwt' });
    alice.chat.connect();
    await waitFor(() => alice.chat.state.status === 'closed', 'closed after the refusal');
    expect(alice.chat.state).toMatchObject({ status: 'closed', reason: 'unauthorized' });
    alice.chat.setToken(token('alice'));
    await waitFor(() => isOpen(alice.chat), 'open with the new token');
  });

  it('gets a fresh token from the callback when the current one has expired', async () => {
    const service = await start({ JWT_CLOCK_SKEW_S: 0 });
    let calls = 0;
    const alice = client(service.ws, 'alice', { token: token('alice', { expiresInS: -10 }), refreshToken: () => (calls++, token('alice')) });
    alice.chat.connect();
    await waitFor(() => isOpen(alice.chat), 'open with the refreshed token');
    expect(calls).toBeGreaterThanOrEqual(1);
  });

  it('asks a refreshToken that fails (the main backend away) again after the reconnect delay, until it gives a token', async () => {
    const service = await start({ JWT_CLOCK_SKEW_S: 0 });
    let calls = 0;
    const refreshToken = () => {
      calls += 1;
      if (calls <= 3) throw new Error('the backend is away');
      return token('alice');
    };
    const alice = client(service.ws, 'alice', { token: token('alice', { expiresInS: -10 }), refreshToken });
    const errors: string[] = [];
    alice.chat.on('error', ({ code }) => errors.push(code));
    alice.chat.connect();
    await waitFor(() => isOpen(alice.chat), 'open once the callback gives a token');
    expect(calls).toBe(4);
    expect(errors).toEqual(['token_refresh_failed', 'token_refresh_failed', 'token_refresh_failed']);
    expect(alice.states.filter((s) => s.status === 'closed')).toEqual([]);
  });

  it('asks refreshToken for a token that expired while the service was away, however many reconnects failed', async () => {
    const port = await freePort();
    const expired = Date.now() + 1500;
    const alice = client(`ws://127.0.0.1:${port}/api/v1/chats/ws`, 'alice', { token: token('alice', { expiresInS: 1 }), refreshToken: () => token('alice') });
    alice.chat.connect();
    // Reconnects fail (nothing listens) past the token's expiry.
    await waitFor(() => alice.states.filter((s) => s.status === 'reconnecting').length >= 4 && Date.now() > expired, 'reconnects failed past the expiry', 5000);
    await start({ JWT_CLOCK_SKEW_S: 0 }, port);
    await waitFor(() => isOpen(alice.chat), 'open with a fresh token');
    expect(alice.states.filter((s) => s.status === 'closed')).toEqual([]);
  });

  it('asks again when the refresh before expiry fails, and keeps the connection', async () => {
    const service = await start({ JWT_CLOCK_SKEW_S: 0 });
    let calls = 0;
    const refreshToken = () => {
      calls += 1;
      if (calls === 1) throw new Error('the backend is away');
      return token('alice');
    };
    const alice = client(service.ws, 'alice', { token: token('alice', { expiresInS: 6 }), refreshToken });
    alice.chat.on('error', () => undefined);
    alice.chat.connect();
    await waitFor(() => isOpen(alice.chat), 'open');
    const connection = (alice.chat.state as { connectionId: string }).connectionId;
    // Asked about a second before the expiry (5 to 6 s away: exp is in whole seconds), and once more before it.
    await waitFor(() => calls === 2, 'the callback asked again', 8000);
    const expiry = Date.now() + 2000;
    await waitFor(() => Date.now() > expiry, 'past the first token’s expiry', 3000);
    expect(alice.states.filter((s) => s.status !== 'open' && s.status !== 'connecting')).toEqual([]);
    expect((alice.chat.state as { connectionId: string }).connectionId).toBe(connection);
  });

  it('refreshes the token before it expires, so the server never closes the connection', async () => {
    const service = await start({ JWT_CLOCK_SKEW_S: 0 });
    let refreshed = 0;
    const alice = client(service.ws, 'alice', { token: token('alice', { expiresInS: 2 }), refreshToken: () => (refreshed++, token('alice')) });
    alice.chat.connect();
    await waitFor(() => isOpen(alice.chat), 'open');
    const connection = (alice.chat.state as { connectionId: string }).connectionId;
    await waitFor(() => refreshed === 1, 'the refresh callback called', 5000);
    // Bounded silence past the first token's expiry: the same connection is still open.
    const expiry = Date.now() + 2500;
    await waitFor(() => Date.now() > expiry, 'past the first expiry');
    expect(alice.states.filter((s) => s.status !== 'open' && s.status !== 'connecting')).toEqual([]);
    expect((alice.chat.state as { connectionId: string }).connectionId).toBe(connection);
  });

  it('reports presence and typing per room, and throttles typing starts', async () => {
    const service = await start();
    const room = await createRoom(service.http, 'alice', ['bob']);
    const alice = client(service.ws, 'alice', { typingIdleMs: 300 });
    const bob = client(service.ws, 'bob');
    const typingSeen: string[][] = [];
    bob.chat.on('typing', ({ users }) => typingSeen.push(users));
    alice.chat.connect();
    bob.chat.connect();
    await alice.chat.join(room);
    await bob.chat.join(room);
    await waitFor(() => alice.chat.online(room).includes('bob'), 'alice sees bob online');

    for (let i = 0; i < 5; i++) alice.chat.typing(room);
    await waitFor(() => bob.chat.typingUsers(room).includes('alice'), 'bob sees alice typing');
    await waitFor(() => bob.chat.typingUsers(room).length === 0, 'typing stops by itself');
    expect(typingSeen).toEqual([[], ['alice'], []]);

    bob.chat.close();
    await waitFor(() => !alice.chat.online(room).includes('bob'), 'alice sees bob go offline');
  });

  it('takes who is online and typing as a whole when its instance may have missed changes (presence_state)', async () => {
    const env = await redisEnv();
    const link = await LinkProxy.start(env.REDIS_URL as string);
    try {
      const direct = await start(env);
      const cutOff = await start({ ...env, REDIS_URL: link.url });
      const room = await createRoom(direct.http, 'alice', ['bob', 'carol']);
      const [alice, bob, carol] = [client(direct.ws, 'alice'), client(cutOff.ws, 'bob'), client(direct.ws, 'carol')];
      for (const { chat } of [alice, bob, carol]) {
        chat.connect();
        await chat.join(room);
      }
      alice.chat.typing(room);
      await waitFor(() => bob.chat.typingUsers(room).includes('alice') && bob.chat.online(room).length === 3, 'bob sees alice typing');
      // Bob's instance loses Redis, and alice leaves meanwhile: it does not hear her go.
      link.cut();
      alice.chat.close();
      await waitFor(() => !carol.chat.online(room).includes('alice'), 'carol sees alice go');
      link.heal();
      await waitFor(() => bob.chat.online(room).sort().join() === 'bob,carol' && bob.chat.typingUsers(room).length === 0, 'bob sees alice gone');
    } finally {
      await link.close();
    }
  });

  it('rejects a message the server refuses for good, and keeps the connection', async () => {
    const service = await start({ MAX_MESSAGE_LENGTH: 10 });
    const room = await createRoom(service.http, 'alice', []);
    const alice = client(service.ws, 'alice');
    alice.chat.connect();
    await alice.chat.join(room);
    await expect(alice.chat.send(room, 'far too long for this room')).rejects.toMatchObject({ code: 'content_too_long' });
    expect(alice.chat.pending()).toEqual([]);
    expect((await alice.chat.send(room, 'short')).seq).toBe(1);
  });

  it('refuses a room the user is not a member of', async () => {
    const service = await start();
    const room = await createRoom(service.http, 'alice', []);
    const mallory = client(service.ws, 'mallory');
    mallory.chat.connect();
    await expect(mallory.chat.join(room)).rejects.toMatchObject({ code: 'not_a_member' });
    expect(mallory.chat.joinedRooms()).toEqual([]);
    expect(isOpen(mallory.chat)).toBe(true);
    // A room refused (or left, or never joined) takes no messages: none waits for a join that will not come.
    await expect(mallory.chat.send(room, 'let me in')).rejects.toMatchObject({ code: 'not_joined', roomId: room });
    expect(mallory.chat.pending()).toEqual([]);
  });

  it('joins more rooms than the rate limit lets through at once, and again after a reconnect: the dropped joins go again', async () => {
    const service = await start({ RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 5 });
    const rooms = await Promise.all(Array.from({ length: 12 }, () => createRoom(service.http, 'alice', ['bob'])));
    const alice = client(service.ws, 'alice');
    alice.chat.connect();
    await Promise.all(rooms.map((room) => alice.chat.join(room)));
    // Every room joined on the server: a message in each reaches alice.
    for (const room of rooms) await post(service.http, room, 'bob', `to ${room}`);
    await waitFor(() => alice.seen.length === rooms.length, 'a message in every room');
    // A reconnect joins all twelve again at once; some are dropped and sent again.
    const joined: string[] = [];
    alice.chat.on('joined', (sync) => joined.push(sync.roomId));
    (alice.chat as unknown as { socket: { close(): void } }).socket.close();
    await waitFor(() => new Set(joined).size === rooms.length, 'every room joined again', 15_000);
    for (const room of rooms) await post(service.http, room, 'bob', `again ${room}`);
    await waitFor(() => alice.seen.length === 2 * rooms.length, 'a second message in every room');
    // A message in every room at once: those dropped over the rate go again a second or two later, not after the 10 s ack timeout.
    const started = Date.now();
    await Promise.all(rooms.map((room) => alice.chat.send(room, `from alice in ${room}`)));
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
