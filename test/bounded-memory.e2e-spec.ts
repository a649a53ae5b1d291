import type { IncomingMessage, Server } from 'node:http';
import request from 'supertest';
import { ConnectionRegistry } from '../src/chat/connection.registry.js';
import { waitFor } from '../scripts/processes.mjs';
import { expectServed, join } from './support/client.js';
import { heapAfterGc } from './support/gc.js';
import { useInstances } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { draft, messageStoreOf } from './support/store.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe('the embedded history across rooms (HISTORY_MAX_BYTES)', () => {
  const instances = useInstances({ env: { HISTORY_MAX_BYTES: 1024 * 1024 } });

  it('keeps the total within the budget, dropping the oldest messages of any room first', async () => {
    const running = instances.first;
    const store = messageStoreOf(running.app);
    const rooms: string[] = [];
    for (let r = 0; r < 20; r++) rooms.push(await createRoom(running.http, 'alice', []));
    const LENGTH = 8000;
    const before = heapAfterGc();
    for (const roomId of rooms) for (let i = 0; i < 40; i++) await store.append(draft(roomId, `${i}`.padEnd(LENGTH, 'x')), 60_000);
    // 800 messages of 8000 characters were written: 6.4 MB of text; about 1 MiB of it is kept.
    expect(heapAfterGc() - before).toBeLessThan(4 * 1024 * 1024);
    const totals: number[] = [];
    for (const roomId of rooms) {
      const response = await request(running.http)
        .get(`/api/v1/chats/rooms/${roomId}/messages?limit=1`)
        .set('Authorization', `Bearer ${token('alice')}`)
        .expect(200);
      totals.push(response.body.total as number);
    }
    // The newest messages are kept, whichever room they are in; the oldest rooms lost theirs.
    const kept = totals.reduce((a, b) => a + b, 0);
    expect(kept * 2 * LENGTH).toBeLessThanOrEqual(1024 * 1024);
    expect(kept).toBeGreaterThan(30);
    expect(totals.at(-1)).toBe(40);
    expect(totals[0]).toBe(0);
    // The room whose oldest messages went still takes new ones, numbered on.
    const client = await TestClient.connect(running.ws, token('alice'));
    await join(client, rooms[0]);
    client.send({ type: 'send_message', room_id: rooms[0], content: 'after' });
    expect((await client.next('message_ack')).message).toMatchObject({ seq: 41, content: 'after' });
    await client.close();
  });
});

describe('unsent bytes of all connections (MAX_TOTAL_BUFFERED_BYTES)', () => {
  const instances = useInstances({ env: { MAX_TOTAL_BUFFERED_BYTES: 1024 * 1024, MAX_BUFFERED_BYTES: 256 * 1024 * 1024 } });

  it('closes the readers furthest behind with 1013 and keeps serving the one that reads', async () => {
    const running = instances.first;
    const roomId = await createRoom(running.http, 'alice', ['bob', 'carol']);
    const registry = running.app.get(ConnectionRegistry, { strict: false });
    const reader = await TestClient.connect(running.ws, token('alice'));
    const slow = [await TestClient.connect(running.ws, token('bob')), await TestClient.connect(running.ws, token('carol'))];
    for (const client of [reader, ...slow]) await join(client, roomId);
    // The slow clients stop reading from their TCP sockets.
    for (const client of slow) (client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const store = messageStoreOf(running.app);
    const content = 'y'.repeat(64 * 1024);
    const count = 600;
    const received = () => reader.frames.filter((f) => f.type === 'message').length;
    // The reader keeps up (this process is also the server): a few messages, then wait until it has them.
    for (let i = 1; i <= count; i++) {
      await store.append(draft(roomId, content), 60_000);
      if (i % 4 === 0) await waitFor(() => received() >= i, 10_000, `message ${i} at the reader`, 20);
    }
    await waitFor(() => registry.slowClosed >= 2, 5_000, 'the slow readers to be closed', 20);
    expect(reader.socket.readyState).toBe(reader.socket.OPEN);
    for (const client of slow) (client.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    for (const client of slow) expect([1013, 1006]).toContain((await client.closed).code);
    await reader.close();
  }, 40_000);
});

describe('what an open connection holds', () => {
  const instances = useInstances();

  // A listener that shares a scope with the upgrade would keep the request, its headers and URL (token included) for the socket's life.
  it('lets its upgrade request go once the socket is open', async () => {
    const running = instances.first;
    const requests: Array<WeakRef<IncomingMessage>> = [];
    const server = running.app.getHttpServer() as Server;
    const remember = (req: IncomingMessage) => requests.push(new WeakRef(req));
    server.prependListener('upgrade', remember);
    // Nest remembers the latest connection's arguments (request included), so the first is the one to watch.
    const clients = [await TestClient.connect(running.ws, token('alice')), await TestClient.connect(running.ws, token('bob'))];
    server.off('upgrade', remember);
    for (const client of clients) await expectServed(client);
    await waitFor(() => {
      heapAfterGc();
      return requests[0].deref() === undefined;
    }, 3000, 'the first upgrade request collected');
    await expectServed(clients[0]);
    for (const client of clients) await client.close();
  });
});
