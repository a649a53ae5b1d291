import { jest } from '@jest/globals';
import { MemoryBus } from '../bus/memory.bus.js';
import type { RoomEvent } from '../bus/room-event.js';
import { parseEnvironment } from '../config/environment.js';
import { toSettings } from '../config/settings.js';
import { MemoryMessageStore } from './memory-message.store.js';
import { MemoryReadStore } from './memory-read.store.js';
import type { MessageDraft } from './message.store.js';

const HISTORY_MAX = 5;
const WINDOW = 60_000;

const settings = toSettings(
  parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), HISTORY_MAX_PER_ROOM: String(HISTORY_MAX) }),
);

function draft(overrides: Partial<MessageDraft> = {}): MessageDraft {
  return {
    room_id: 'r1',
    sender_id: 'alice',
    content: 'hello',
    message_type: 'text',
    parent_message_id: null,
    client_msg_id: null,
    ...overrides,
  };
}

describe(MemoryMessageStore.name, () => {
  let bus: MemoryBus;
  let store: MemoryMessageStore;
  let events: { roomId: string; event: RoomEvent }[];

  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  const appendMany = async (count: number, roomId = 'r1') => {
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) seqs.push((await store.append(draft({ room_id: roomId, content: `m${i + 1}` }), WINDOW)).message.seq!);
    return seqs;
  };

  beforeEach(async () => {
    bus = new MemoryBus();
    events = [];
    bus.onEvent((roomId, event) => events.push({ roomId, event }));
    await bus.subscribe('r1');
    await bus.subscribe('r2');
    store = new MemoryMessageStore(bus, settings);
  });

  describe('append', () => {
    it('builds the message from the draft', async () => {
      const { message, duplicate } = await store.append(
        draft({ content: 'hi', parent_message_id: 'p1', client_msg_id: 'cm-1' }),
        WINDOW,
      );

      expect(duplicate).toBe(false);
      expect(message).toMatchObject({
        room_id: 'r1',
        sender_id: 'alice',
        seq: 1,
        message_type: 'text',
        content: 'hi',
        attachments: null,
        parent_message_id: 'p1',
        thread_count: 0,
        reactions: [],
        is_edited: false,
        is_deleted: false,
        client_msg_id: 'cm-1',
      });
      expect(message.message_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(message.created_at).toISOString()).toBe(message.created_at);
      expect(message.updated_at).toBe(message.created_at);
    });

    it('numbers a room 1..n without gaps', async () => {
      expect(await appendMany(7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    });

    it('numbers each room on its own', async () => {
      const seqs: [string, number][] = [];
      for (const roomId of ['r1', 'r2', 'r1', 'r1', 'r2', 'r3']) {
        seqs.push([roomId, (await store.append(draft({ room_id: roomId }), WINDOW)).message.seq!]);
      }

      expect(seqs).toEqual([
        ['r1', 1],
        ['r2', 1],
        ['r1', 2],
        ['r1', 3],
        ['r2', 2],
        ['r3', 1],
      ]);
    });

    it('gives concurrent appends distinct consecutive seqs', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.append(draft({ content: `m${i}` }), WINDOW)));

      expect(results.map((r) => r.message.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(results.map((r) => r.message.message_id)).size).toBe(20);
    });

    it('publishes every message on its room channel in seq order', async () => {
      const appended = await Promise.all([
        store.append(draft({ content: 'a' }), WINDOW),
        store.append(draft({ room_id: 'r2', content: 'b' }), WINDOW),
        store.append(draft({ content: 'c' }), WINDOW),
        store.append(draft({ content: 'd' }), WINDOW),
      ]);
      await flush();

      const { epoch } = await store.head('r1');
      expect(events).toEqual(
        appended.map(({ message }) => ({ roomId: message.room_id, event: { type: 'message', data: message, epoch } })),
      );
      expect(events.filter((e) => e.roomId === 'r1').map((e) => (e.event.data as { seq: number }).seq)).toEqual([1, 2, 3]);
    });
  });

  describe('dedup', () => {
    afterEach(() => {
      jest.useRealTimers();
    });

    it('returns the original for the same sender, room and client_msg_id, and publishes nothing', async () => {
      const first = await store.append(draft({ client_msg_id: 'cm-1', content: 'one' }), WINDOW);
      await flush();
      events.length = 0;

      const again = await store.append(draft({ client_msg_id: 'cm-1', content: 'one, again' }), WINDOW);
      await flush();

      expect(again).toEqual({ message: first.message, duplicate: true });
      expect(events).toEqual([]);
      expect((await store.head('r1')).seq).toBe(1);
      expect((await store.readAfter('r1', 0, 100)).messages).toEqual([first.message]);
    });

    it('keeps different senders, rooms and ids apart', async () => {
      await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);

      const results = await Promise.all([
        store.append(draft({ client_msg_id: 'cm-1', sender_id: 'bob' }), WINDOW),
        store.append(draft({ client_msg_id: 'cm-1', room_id: 'r2' }), WINDOW),
        store.append(draft({ client_msg_id: 'cm-2' }), WINDOW),
      ]);

      expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
      expect((await store.head('r1')).seq).toBe(3);
    });

    it('never deduplicates messages without a client_msg_id', async () => {
      await store.append(draft(), WINDOW);
      const second = await store.append(draft(), WINDOW);

      expect(second.duplicate).toBe(false);
      expect(second.message.seq).toBe(2);
    });

    it('deduplicates within the window and not after it', async () => {
      jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
      const first = await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);

      jest.setSystemTime(Date.now() + WINDOW - 1);
      const within = await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);
      expect(within).toEqual({ message: first.message, duplicate: true });

      jest.setSystemTime(Date.now() + 1);
      const after = await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);
      expect(after.duplicate).toBe(false);
      expect(after.message.seq).toBe(2);
      expect(after.message.message_id).not.toBe(first.message.message_id);
      expect(after.message.created_at).toBe(new Date(Date.now()).toISOString());

      jest.setSystemTime(Date.now() + WINDOW - 1);
      expect(await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW)).toEqual({ message: after.message, duplicate: true });
    });

    it('measures the window from the original, not from the retries', async () => {
      jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
      const start = Date.now();
      await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);
      jest.setSystemTime(start + WINDOW / 2);
      await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);

      jest.setSystemTime(start + WINDOW);
      expect((await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW)).duplicate).toBe(false);
    });

    it('uses the window given with each append', async () => {
      jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
      const start = Date.now();
      await store.append(draft({ client_msg_id: 'short' }), 1_000);
      await store.append(draft({ client_msg_id: 'long' }), WINDOW);

      jest.setSystemTime(start + 1_000);

      expect((await store.append(draft({ client_msg_id: 'short' }), 1_000)).duplicate).toBe(false);
      expect((await store.append(draft({ client_msg_id: 'long' }), WINDOW)).duplicate).toBe(true);
    });
  });

  describe('readAfter', () => {
    it('returns the messages after a seq, oldest first, up to the limit', async () => {
      await appendMany(4);

      const all = await store.readAfter('r1', 0, 100);
      expect(all.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      expect(all.messages.map((m) => m.content)).toEqual(['m1', 'm2', 'm3', 'm4']);
      expect(all.complete).toBe(true);

      expect((await store.readAfter('r1', 2, 100)).messages.map((m) => m.seq)).toEqual([3, 4]);
      expect((await store.readAfter('r1', 1, 2)).messages.map((m) => m.seq)).toEqual([2, 3]);
    });

    it('returns nothing, completely, for a client that is up to date', async () => {
      await appendMany(4);

      const result = await store.readAfter('r1', 4, 100);

      expect(result.messages).toEqual([]);
      expect(result.complete).toBe(true);
      expect(result.head.seq).toBe(4);
    });

    it('reads an empty room as complete', async () => {
      const result = await store.readAfter('r1', 0, 100);

      expect(result).toMatchObject({ messages: [], complete: true, head: { seq: 0 } });
    });

    it('reads only the asked room', async () => {
      await appendMany(3, 'r1');
      await appendMany(2, 'r2');

      const result = await store.readAfter('r2', 0, 100);

      expect(result.messages.map((m) => [m.room_id, m.seq])).toEqual([
        ['r2', 1],
        ['r2', 2],
      ]);
      expect(result.head.seq).toBe(2);
    });

    it('keeps at most HISTORY_MAX_PER_ROOM messages, dropping the oldest', async () => {
      await appendMany(HISTORY_MAX + 3);

      const result = await store.readAfter('r1', 3, 100);

      expect(result.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(result.complete).toBe(true);
      expect(result.head.seq).toBe(HISTORY_MAX + 3);
    });

    it('is incomplete once retention dropped a message that was asked for', async () => {
      await appendMany(HISTORY_MAX + 3);

      expect((await store.readAfter('r1', 0, 100)).complete).toBe(false);
      expect((await store.readAfter('r1', 2, 100)).complete).toBe(false);
      expect((await store.readAfter('r1', 3, 100)).complete).toBe(true);
    });

    it('is complete when the limit, not retention, cuts the answer short', async () => {
      await appendMany(HISTORY_MAX);

      const result = await store.readAfter('r1', 0, 2);

      expect(result.messages.map((m) => m.seq)).toEqual([1, 2]);
      expect(result.complete).toBe(true);
    });

    it('does not count deduplicated retries against retention', async () => {
      await appendMany(HISTORY_MAX - 1);
      await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);
      for (let i = 0; i < 10; i++) await store.append(draft({ client_msg_id: 'cm-1' }), WINDOW);

      const result = await store.readAfter('r1', 0, 100);

      expect(result.complete).toBe(true);
      expect(result.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('HISTORY_MAX_BYTES', () => {
    it('drops the oldest message of any room first, past those its room already dropped', async () => {
      // About 200 KB each by the estimate: five fit in the 1 MiB bound, six do not.
      const bounded = new MemoryMessageStore(
        bus,
        toSettings(parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), HISTORY_MAX_PER_ROOM: '3', HISTORY_MAX_BYTES: String(1024 * 1024) })),
      );
      const big = (roomId: string) => bounded.append(draft({ room_id: roomId, content: 'x'.repeat(100_000) }), WINDOW);
      for (let i = 0; i < 4; i++) await big('r1');
      for (let i = 0; i < 3; i++) await big('r2');

      const seqsOf = async (roomId: string) => (await bounded.readAfter(roomId, 0, 100)).messages.map((m) => m.seq);
      // r1 dropped 1 itself (3 per room); the byte bound then takes 2, the oldest retained of any room.
      expect(await seqsOf('r1')).toEqual([3, 4]);
      expect(await seqsOf('r2')).toEqual([1, 2, 3]);
      // A room's own bound comes first: r2's fourth drops r2's first, and five fit again.
      await big('r2');
      expect(await seqsOf('r1')).toEqual([3, 4]);
      expect(await seqsOf('r2')).toEqual([2, 3, 4]);
      await big('r3');
      expect(await seqsOf('r1')).toEqual([4]);
      expect(await seqsOf('r3')).toEqual([1]);
    });

    it('holds when edits make retained messages larger, dropping the oldest then', async () => {
      const bounded = new MemoryMessageStore(
        bus,
        toSettings(parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), HISTORY_MAX_BYTES: String(1024 * 1024) })),
      );
      const small = [];
      for (let i = 0; i < 8; i++) small.push((await bounded.append(draft({ room_id: 'r1', content: 'x' }), WINDOW)).message);
      // Each edit makes one about 200 KB by the estimate: five fit in the 1 MiB bound.
      for (const message of small) {
        const edited = { ...message, content: 'y'.repeat(100_000), updated_at: new Date().toISOString() };
        await bounded.replace(edited, message, 'message_updated');
      }
      const kept = (await bounded.readAfter('r1', 0, 100)).messages;
      expect(kept.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    });
  });

  describe('with the read store', () => {
    it("moves the sender's read position to each message it appends", async () => {
      const reads = new MemoryReadStore();
      const marking = new MemoryMessageStore(bus, settings, reads);
      expect(marking.marksSenderRead).toBe(true);
      expect(store.marksSenderRead).toBe(false);

      await marking.append(draft(), WINDOW);
      const { message } = await marking.append(draft(), WINDOW);

      expect(await reads.ofUser('alice', ['r1', 'r2'])).toEqual([{ seq: 2, at: message.created_at }, undefined]);
      expect(await reads.ofUser('bob', ['r1'])).toEqual([undefined]);
    });
  });

  describe('head', () => {
    it('reports an empty room', async () => {
      expect(await store.head('r1')).toEqual({ seq: 0, epoch: expect.any(String), lastMessageAt: null });
    });

    it('reports the latest seq and the time of the latest message', async () => {
      jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
      try {
        await appendMany(2);
        jest.setSystemTime(new Date('2026-01-01T00:05:00.000Z'));
        await appendMany(1);

        expect(await store.head('r1')).toMatchObject({ seq: 3, lastMessageAt: '2026-01-01T00:05:00.000Z' });
      } finally {
        jest.useRealTimers();
      }
    });

    it('keeps one epoch for the life of the store, across rooms and appends', async () => {
      const before = (await store.head('r1')).epoch;
      await appendMany(HISTORY_MAX + 2);

      expect(before).not.toBe('');
      expect((await store.head('r1')).epoch).toBe(before);
      expect((await store.head('r2')).epoch).toBe(before);
      expect((await store.readAfter('r1', 0, 1)).head.epoch).toBe(before);
    });

    it('gives another store another epoch', async () => {
      const other = new MemoryMessageStore(bus, settings);

      expect((await other.head('r1')).epoch).not.toBe((await store.head('r1')).epoch);
    });
  });
});
