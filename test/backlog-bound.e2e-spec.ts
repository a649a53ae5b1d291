import { jest } from '@jest/globals';
import { RoomFanout } from '../src/chat/room-fanout.js';
import type { MessageStore } from '../src/messages/message.store.js';
import { collect, join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { draft, messageStoreOf } from './support/store.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const BOUND = 10;

/** A gate a store read waits at, so the test can fill the room while the read is slow. */
function gate(): { wait: Promise<void>; open(): void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/**
 * ROOM_BACKLOG_MAX bounds what waits while the store is slow: the frames
 * held for a joining connection and the events a catching-up room holds
 * back. Past it they are dropped and the messages are read again from the
 * store: the client still gets every message, once, in order.
 */
describe('events waiting for a slow store (ROOM_BACKLOG_MAX)', () => {
  const instances = useInstances({ env: { ROOM_BACKLOG_MAX: BOUND } });
  let store: MessageStore;
  beforeAll(() => (store = messageStoreOf(instances.first.app)));
  afterEach(() => jest.restoreAllMocks());

  const seqsOf = async (client: TestClient, count: number) =>
    (await collect(client, 'message', count)).map((frame) => (frame.message as { seq: number }).seq);

  it('drops the frames held for a slow join past the bound and sends the messages from the store', async () => {
    const roomId = await createRoom(instances.http, 'alice', []);
    const watcher = await TestClient.connect(instances.ws, token('alice'));
    await join(watcher, roomId);
    const slow = gate();
    const read = gate();
    const head = store.head.bind(store);
    // The join reads the head (empty), then waits while the room fills.
    jest.spyOn(store, 'head').mockImplementationOnce(async (id) => {
      const now = await head(id);
      read.open();
      await slow.wait;
      return now;
    });
    const joiner = await TestClient.connect(instances.ws, token('alice'));
    joiner.send({ type: 'join_room', room_id: roomId });
    await read.wait;
    for (let i = 1; i <= 5 * BOUND; i++) await store.append(draft(roomId, `m${i}`), 60_000);
    // The watcher had them all live; the joiner's are held, past the bound.
    expect(await seqsOf(watcher, 5 * BOUND)).toHaveLength(5 * BOUND);
    slow.open();
    expect(await joiner.next('joined')).toMatchObject({ seq: 0 });
    expect(await seqsOf(joiner, 5 * BOUND)).toEqual(Array.from({ length: 5 * BOUND }, (_, i) => i + 1));
    await store.append(draft(roomId, 'after'), 60_000);
    expect(await seqsOf(joiner, 1)).toEqual([5 * BOUND + 1]);
    await joiner.nothing(100, 'message');
    await Promise.all([watcher.close(), joiner.close()]);
  });

  it('reads the store again when a catching-up room passed the bound, and delivers every message once, in order', async () => {
    const roomId = await createRoom(instances.http, 'alice', []);
    const client = await TestClient.connect(instances.ws, token('alice'));
    await join(client, roomId);
    const fanout = instances.first.app.get(RoomFanout, { strict: false });
    const before = fanout.overflowed;
    const slow = gate();
    const read = gate();
    const readAfter = store.readAfter.bind(store);
    jest.spyOn(store, 'readAfter').mockImplementationOnce(async (...args) => {
      read.open();
      await slow.wait;
      return readAfter(...args);
    });
    void fanout.resync();
    await read.wait;
    for (let i = 1; i <= 5 * BOUND; i++) await store.append(draft(roomId, `m${i}`), 60_000);
    slow.open();
    expect(await seqsOf(client, 5 * BOUND)).toEqual(Array.from({ length: 5 * BOUND }, (_, i) => i + 1));
    expect(fanout.overflowed).toBeGreaterThan(before);
    await client.nothing(100, 'message');
    await client.close();
  });
});
