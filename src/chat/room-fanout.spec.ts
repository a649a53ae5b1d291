import type { WebSocket } from 'ws';
import { MemoryBus } from '../bus/memory.bus.js';
import { parseEnvironment } from '../config/environment.js';
import { toSettings } from '../config/settings.js';
import { MemoryMessageStore } from '../messages/memory-message.store.js';
import { MessagesService } from '../messages/messages.service.js';
import { MemoryPresenceStore } from '../presence/memory-presence.store.js';
import { PresenceService } from '../presence/presence.service.js';
import { MemoryRoomStore } from '../rooms/memory-room.store.js';
import type { ConnectionSlots } from '../limits/connection-slots.js';
import { MemoryReadStore } from '../messages/memory-read.store.js';
import { ReadStateService } from '../messages/read-state.service.js';
import { MemoryUserDirectoryStore } from '../users/memory-user-directory.store.js';
import { UsersService } from '../users/users.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { AppLogger } from '../logging/app-logger.js';
import { logs, recordNestLogs } from '../../test/support/logs.js';
import { Connection } from './connection.js';
import { JoinsService } from './joins.service.js';
import type { Message } from './protocol.js';
import { RateLimiter } from './rate-limiter.js';
import { RoomEventsListener } from './room-events.listener.js';
import { RoomFanout } from './room-fanout.js';
import { SignedUrls } from '../files/signed-urls.js';

const settings = toSettings(
  parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), HISTORY_MAX_PER_ROOM: '10', RECOVERY_MAX_MESSAGES: '3' }),
);

/** The socket end of a connection: an open socket that records the text frames written to it. */
class RecordingSocket {
  readonly readyState = 1;
  readonly bufferedAmount = 0;
  readonly frames: Array<{ type: string; message?: Message }> = [];
  send(data: string | Buffer): void {
    this.frames.push(JSON.parse(data.toString()));
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe(RoomFanout.name, () => {
  recordNestLogs();
  let bus: MemoryBus;
  let store: MemoryMessageStore;
  let fanout: RoomFanout;
  let socket: RecordingSocket;

  const seqs = () => socket.frames.filter((f) => f.type === 'message').map((f) => f.message?.seq);
  const send = (content: string) =>
    store.append(
      { room_id: 'r1', sender_id: 'alice', content, message_type: 'text', parent_message_id: null, client_msg_id: null },
      1000,
    );

  beforeEach(async () => {
    bus = new MemoryBus();
    store = new MemoryMessageStore(bus, settings);
    const presence = new PresenceService(new MemoryPresenceStore(), bus, settings);
    const messages = new MessagesService(store, presence, settings, new SignedUrls('key', 3600, '/files/'));
    const roomStore = new MemoryRoomStore();
    const reads = new ReadStateService(new MemoryReadStore(), store, bus);
    const users = new UsersService(new MemoryUserDirectoryStore());
    const rooms = new RoomsService(roomStore, bus, messages, settings, reads, users, { online: async (ids: string[]) => ids.map(() => false) } as unknown as ConnectionSlots);
    fanout = new RoomFanout(bus, messages, presence, settings);
    const joins = new JoinsService(fanout, rooms, presence, messages, settings, new AppLogger({ format: 'json', level: 'silent' }));
    new RoomEventsListener(bus, fanout, joins).onModuleInit();
    const at = new Date().toISOString();
    await roomStore.create(
      { room_id: 'r1', room_type: 'team', room_name: null, description: null, owner_id: 'bob', member_ids: [],
        is_active: true, is_archived: false, created_at: at, last_message_at: null },
      [{ user_id: 'bob', role: 'owner', joined_at: at }],
    );
    socket = new RecordingSocket();
    const session = { userId: 'bob', expiresAt: null, isService: false };
    const connection = new Connection(socket as unknown as WebSocket, session, new RateLimiter(100, 100), 1 << 20);
    // Bob joins as a client does; the spec then looks only at what follows `joined`.
    await joins.join(connection, 'r1');
    await flush();
    expect(socket.frames.map((f) => f.type)).toEqual(['joined']);
    socket.frames.length = 0;
  });

  it('delivers messages in seq order as they come', async () => {
    for (const content of ['a', 'b', 'c']) await send(content);
    await flush();
    expect(seqs()).toEqual([1, 2, 3]);
  });

  it('fills a gap from the store, in batches, past a head that retention already dropped', async () => {
    await send('1');
    await send('2');
    await flush();
    await bus.unsubscribe('r1');
    for (let i = 3; i <= 22; i++) await send(String(i));
    await flush();
    await bus.subscribe('r1');
    await send('23');
    await flush();
    await flush();
    // Only 14..23 are kept (10 per room); they come from the store in batches of 3.
    expect(seqs()).toEqual([1, 2, ...Array.from({ length: 10 }, (_, i) => 14 + i)]);
  });

  it('leaves a main-backend message (a seq of its own, no epoch) out of the order', async () => {
    await send('ours');
    await flush();
    const backend = { ...(socket.frames[0].message as Message), message_id: 'from-backend', seq: 500 };
    await bus.publish('r1', { type: 'message', data: backend });
    await send('ours again');
    await flush();
    expect(seqs()).toEqual([1, 500, 2]);
  });

  it('drops messages of an epoch or a seq the store does not confirm, and keeps the room going', async () => {
    for (const content of ['a', 'b', 'c']) await send(content);
    await flush();
    const message = socket.frames[0].message as Message;
    const { epoch } = await store.head('r1');
    await bus.publish('r1', { type: 'message', data: { ...message, message_id: 'n1', seq: 1 }, epoch: 'new-epoch' });
    await bus.publish('r1', { type: 'message', data: { ...message, message_id: 'n2', seq: 1_000_000 }, epoch });
    await flush();
    await flush();
    await send('d');
    await flush();
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(fanout.unconfirmed).toBe(2);
    const dropped = logs.lines.filter((line) => line.context === RoomFanout.name && line.text.includes('which the store does not have'));
    expect(dropped.map((line) => line.text)).toEqual([
      expect.stringContaining('dropped message 1 of epoch new-epoch'),
      expect.stringContaining('dropped message 1000000 of epoch'),
    ]);
  });

  it('tries a catch-up that failed again by itself, so a quiet room gets what it missed without waiting for a message', async () => {
    await send('1');
    await flush();
    await bus.unsubscribe('r1');
    for (const content of ['2', '3']) await send(content);
    await bus.subscribe('r1');
    // The store fails the first read, as a shared store whose commands connection alone dropped.
    const readAfter = store.readAfter.bind(store);
    let failures = 1;
    store.readAfter = (...args) => (failures-- > 0 ? Promise.reject(new Error('the store is away')) : readAfter(...args));
    await send('4');
    await flush();
    expect(seqs()).toEqual([1]);
    expect(logs.take('warn', /^Could not catch up room r1: the store is away$/, RoomFanout.name)).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(seqs()).toEqual([1, 2, 3, 4]);
  });
});
