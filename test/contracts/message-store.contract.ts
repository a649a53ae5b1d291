import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../scripts/processes.mjs';
import type { RoomBus } from '../../src/bus/room-bus.js';
import type { RoomEvent } from '../../src/bus/room-event.js';
import type { Message } from '../../src/chat/protocol.js';
import type { MessageStore } from '../../src/messages/message.store.js';
import { range, seqs } from '../support/client.js';
import { messageShape } from '../support/shapes.js';
import { draft } from '../support/store.js';
import { Inbox } from './inbox.js';

/** One instance of a deployment: its store, and the bus on which that store's publishes arrive. */
export interface MessageStoreInstance {
  store: MessageStore;
  bus: RoomBus;
}

/** Instances opened from one deployment share one history (an in-memory store has one instance). */
export interface MessageStoreDeployment {
  open(): Promise<MessageStoreInstance>;
  /** Writes a room with the deployment's room store: messages go only into a room that exists. */
  createRoom(roomId: string): Promise<void>;
  close(): Promise<void>;
}

const HISTORY_MAX = 5;
const WINDOW_MS = 60_000;

const later = (message: Message, fields: Partial<Message>): Message => ({
  ...message,
  ...fields,
  updated_at: new Date(Date.parse(message.updated_at) + 1000).toISOString(),
});

/** Subscribes `bus` to `roomId` and records what arrives. */
async function watch(bus: RoomBus, roomId: string): Promise<Inbox> {
  const inbox = new Inbox();
  bus.onEvent((room, event) => {
    if (room === roomId) inbox.listener(room, event);
  });
  await bus.subscribe(roomId);
  return inbox;
}

/** Appends a last message and returns every event up to and including its own, so a test sees what else was published. */
async function eventsThrough(instance: MessageStoreInstance, inbox: Inbox, roomId: string): Promise<RoomEvent[]> {
  const { message } = await instance.store.append(draft(roomId, 'sentinel'), WINDOW_MS);
  const isSentinel = (event: RoomEvent) => event.type === 'message' && event.data.message_id === message.message_id;
  await waitFor(() => inbox.received.some((r) => isSentinel(r.event)), 5000, 'the sentinel message', 10);
  return inbox.received.map((r) => r.event);
}

/**
 * The `MessageStore` contract (src/messages/message.store.ts), for any
 * implementation. `deploy` retains `historyMaxPerRoom` messages per room.
 */
export function describeMessageStoreContract(
  name: string,
  deploy: (options: { historyMaxPerRoom: number }) => Promise<MessageStoreDeployment>,
): void {
  describe(`${name} honours the MessageStore contract`, () => {
    let deployment: MessageStoreDeployment;
    let one: MessageStoreInstance;
    beforeEach(async () => {
      deployment = await deploy({ historyMaxPerRoom: HISTORY_MAX });
      one = await deployment.open();
    });
    afterEach(async () => {
      await deployment.close();
    });
    const newRoom = async () => {
      const roomId = `room-${randomUUID()}`;
      await deployment.createRoom(roomId);
      return roomId;
    };

    it('numbers each room’s messages 1, 2, 3 … on its own, in the PROTOCOL §3 shape', async () => {
      const [room, other] = [await newRoom(), await newRoom()];
      const first = await one.store.append(draft(room, 'one', { client_msg_id: 'c-1', sender_id: 'bob' }), WINDOW_MS);
      expect(first).toEqual({
        message: messageShape({ room_id: room, sender_id: 'bob', seq: 1, content: 'one', client_msg_id: 'c-1' }),
        duplicate: false,
      });
      expect(first.message.created_at).toBe(first.message.updated_at);
      expect((await one.store.append(draft(other, 'elsewhere'), WINDOW_MS)).message.seq).toBe(1);
      expect((await one.store.append(draft(room, 'two'), WINDOW_MS)).message.seq).toBe(2);
    });

    it('publishes every appended message on the room’s channel in seq order, with the epoch, when instances append at once', async () => {
      const two = await deployment.open();
      const roomId = await newRoom();
      const inboxes = [await watch(one.bus, roomId), await watch(two.bus, roomId)];
      const appended = await Promise.all(
        range(1, 20).map((i) => (i % 2 ? one : two).store.append(draft(roomId, `m${i}`, { sender_id: `user-${i % 3}` }), WINDOW_MS)),
      );
      expect(seqs(appended.map((a) => a.message)).sort((a, b) => a - b)).toEqual(range(1, 20));
      const { epoch } = await one.store.head(roomId);
      const bySeq = [...appended.map((a) => a.message)].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
      for (const inbox of inboxes) {
        const received = await inbox.until(20);
        expect(received.map((r) => r.event)).toEqual(bySeq.map((message) => ({ type: 'message', data: message, epoch })));
      }
    });

    it('answers a client_msg_id the sender already used in the room with the original, storing and publishing nothing', async () => {
      const roomId = await newRoom();
      const inbox = await watch(one.bus, roomId);
      const original = await one.store.append(draft(roomId, 'first', { client_msg_id: 'dup' }), WINDOW_MS);
      const again = await one.store.append(draft(roomId, 'retry', { client_msg_id: 'dup' }), WINDOW_MS);
      expect(again).toEqual({ message: original.message, duplicate: true });
      const events = await eventsThrough(one, inbox, roomId);
      expect(events.map((event) => (event.data as Message).seq)).toEqual([1, 2]);
      expect((await one.store.head(roomId)).seq).toBe(2);
    });

    it('answers a retried client_msg_id with the message as it is now: edited, then deleted, since it was sent', async () => {
      const roomId = await newRoom();
      const { message } = await one.store.append(draft(roomId, 'first', { client_msg_id: 'retry-me' }), WINDOW_MS);
      const edited = later(message, { content: 'edited', is_edited: true });
      expect(await one.store.replace(edited, message, 'message_updated')).toBe(true);
      expect(await one.store.append(draft(roomId, 'retry', { client_msg_id: 'retry-me' }), WINDOW_MS)).toEqual({ message: edited, duplicate: true });
      const deleted = later(edited, { content: '', is_deleted: true });
      expect(await one.store.replace(deleted, edited, 'message_deleted')).toBe(true);
      expect(await one.store.append(draft(roomId, 'retry', { client_msg_id: 'retry-me' }), WINDOW_MS)).toEqual({ message: deleted, duplicate: true });
      expect((await one.store.head(roomId)).seq).toBe(1);
    });

    it('treats the same client_msg_id from another sender, in another room, or none at all as new messages', async () => {
      const [roomId, other] = [await newRoom(), await newRoom()];
      await one.store.append(draft(roomId, 'alice', { client_msg_id: 'same' }), WINDOW_MS);
      const bob = await one.store.append(draft(roomId, 'bob', { client_msg_id: 'same', sender_id: 'bob' }), WINDOW_MS);
      const elsewhere = await one.store.append(draft(other, 'elsewhere', { client_msg_id: 'same' }), WINDOW_MS);
      const unnamed = [await one.store.append(draft(roomId, 'x'), WINDOW_MS), await one.store.append(draft(roomId, 'x'), WINDOW_MS)];
      expect([bob, elsewhere, ...unnamed].map((a) => [a.duplicate, a.message.seq])).toEqual([
        [false, 2],
        [false, 1],
        [false, 3],
        [false, 4],
      ]);
    });

    it('deduplicates across instances, and only within dedupWindowMs', async () => {
      const two = await deployment.open();
      const roomId = await newRoom();
      const window = 200;
      const [a, b] = await Promise.all([
        one.store.append(draft(roomId, 'a', { client_msg_id: 'retry' }), window),
        two.store.append(draft(roomId, 'b', { client_msg_id: 'retry' }), window),
      ]);
      expect([a.duplicate, b.duplicate].sort()).toEqual([false, true]);
      expect(a.message).toEqual(b.message);
      // The window itself has to pass: expiry is what is tested here.
      await sleep(window + 50);
      const after = await two.store.append(draft(roomId, 'after the window', { client_msg_id: 'retry' }), window);
      expect(after).toMatchObject({ duplicate: false, message: { seq: 2, content: 'after the window' } });
    });

    it('tells where a room’s history stands: seq, a stable epoch, the last message’s time', async () => {
      const two = await deployment.open();
      const roomId = await newRoom();
      const empty = await one.store.head(roomId);
      expect(empty).toEqual({ seq: 0, epoch: expect.stringMatching(/\S/), lastMessageAt: null });
      await one.store.append(draft(roomId, 'one'), WINDOW_MS);
      const { message } = await two.store.append(draft(roomId, 'two'), WINDOW_MS);
      for (const instance of [one, two]) {
        expect(await instance.store.head(roomId)).toEqual({ seq: 2, epoch: empty.epoch, lastMessageAt: message.created_at });
      }
    });

    it('tells each room’s seq and latest message as it is now (edited, deleted), in the order asked', async () => {
      const [busy, quiet] = [await newRoom(), await newRoom()];
      await one.store.append(draft(busy, 'first'), WINDOW_MS);
      const { message } = await one.store.append(draft(busy, 'second'), WINDOW_MS);
      expect(await one.store.latest([quiet, busy])).toEqual([{ seq: 0, message: null }, { seq: 2, message }]);
      const deleted = { ...message, content: '', is_deleted: true, updated_at: new Date(Date.parse(message.updated_at) + 1).toISOString() };
      expect(await one.store.replace(deleted, message, 'message_deleted')).toBe(true);
      const two = await deployment.open();
      expect(await two.store.latest([busy])).toEqual([{ seq: 2, message: deleted }]);
    });

    it('reads up to limit messages after a seq, oldest first, complete while nothing was dropped', async () => {
      const roomId = await newRoom();
      const sent: Message[] = [];
      for (const i of range(1, 4)) sent.push((await one.store.append(draft(roomId, `m${i}`), WINDOW_MS)).message);
      const head = await one.store.head(roomId);
      expect(await one.store.readAfter(roomId, 0, 100)).toEqual({ head, messages: sent, complete: true });
      expect(await one.store.readAfter(roomId, 1, 2)).toEqual({ head, messages: sent.slice(1, 3), complete: true });
      expect(await one.store.readAfter(roomId, 4, 100)).toEqual({ head, messages: [], complete: true });
      expect(await one.store.readAfter(await newRoom(), 0, 100)).toMatchObject({ head: { seq: 0 }, messages: [], complete: true });
    });

    it('retains the newest historyMaxPerRoom messages per room, dropping the oldest first', async () => {
      const roomId = await newRoom();
      const sent: Message[] = [];
      for (const i of range(1, HISTORY_MAX + 3)) sent.push((await one.store.append(draft(roomId, `m${i}`), WINDOW_MS)).message);
      const retained = sent.slice(3);
      expect(await one.store.page(roomId, undefined, 100)).toEqual({ messages: retained, total: HISTORY_MAX, hasMore: false });
      expect(await one.store.readAfter(roomId, 0, 100)).toMatchObject({ messages: retained, complete: false });
      expect(await one.store.readAfter(roomId, 2, 100)).toMatchObject({ complete: false });
      expect(await one.store.readAfter(roomId, 3, 100)).toMatchObject({ messages: retained, complete: true });
      expect(await one.store.get(roomId, sent[0].message_id)).toBeUndefined();
      expect(await one.store.get(roomId, sent[3].message_id)).toEqual(sent[3]);
      expect((await one.store.head(roomId)).seq).toBe(HISTORY_MAX + 3);
    });

    it('pages back from a seq: the newest limit below it, oldest first, with total and hasMore', async () => {
      const roomId = await newRoom();
      const sent: Message[] = [];
      for (const i of range(1, 5)) sent.push((await one.store.append(draft(roomId, `m${i}`), WINDOW_MS)).message);
      expect(await one.store.page(roomId, undefined, 2)).toEqual({ messages: sent.slice(3), total: 5, hasMore: true });
      expect(await one.store.page(roomId, 4, 2)).toEqual({ messages: sent.slice(1, 3), total: 5, hasMore: true });
      expect(await one.store.page(roomId, 2, 2)).toEqual({ messages: sent.slice(0, 1), total: 5, hasMore: false });
      expect(await one.store.page(roomId, 1, 2)).toEqual({ messages: [], total: 5, hasMore: false });
      expect(await one.store.page(await newRoom(), undefined, 2)).toEqual({ messages: [], total: 0, hasMore: false });
    });

    it('finds a retained message by id as it is now, and nothing for unknown ids or rooms', async () => {
      const two = await deployment.open();
      const roomId = await newRoom();
      const { message } = await one.store.append(draft(roomId, 'original'), WINDOW_MS);
      expect(await two.store.get(roomId, message.message_id)).toEqual(message);
      const edited = later(message, { content: 'edited', is_edited: true });
      expect(await one.store.replace(edited, message, 'message_updated')).toBe(true);
      expect(await two.store.get(roomId, message.message_id)).toEqual(edited);
      expect((await two.store.page(roomId, undefined, 10)).messages).toEqual([edited]);
      expect((await two.store.readAfter(roomId, 0, 10)).messages).toEqual([edited]);
      expect(await one.store.get(roomId, randomUUID())).toBeUndefined();
      expect(await one.store.get(await newRoom(), message.message_id)).toBeUndefined();
    });

    it('tells the retained messages changed since a time, as they are now, oldest change first', async () => {
      const roomId = await newRoom();
      const sent: Message[] = [];
      for (const content of ['a', 'b', 'c', 'd']) sent.push((await one.store.append(draft(roomId, content), WINDOW_MS)).message);
      const at = (message: Message, seconds: number) => new Date(Date.parse(message.created_at) + seconds * 1000).toISOString();
      const edited = { ...sent[2], content: 'c, edited', is_edited: true, updated_at: at(sent[2], 5) };
      const deleted = { ...sent[0], content: '', is_deleted: true, updated_at: at(sent[0], 10) };
      const reacted = { ...sent[1], reactions: [{ emoji: '👍', users: ['bob'], count: 1 }], updated_at: at(sent[1], 20) };
      for (const [now, before] of [[edited, sent[2]], [deleted, sent[0]], [reacted, sent[1]]] as const) {
        expect(await one.store.replace(now, before, now.is_deleted ? 'message_deleted' : 'message_updated')).toBe(true);
      }
      const since = (seconds: number, limit = 10) => one.store.changedSince(roomId, Date.parse(sent[0].created_at) + seconds * 1000, limit);
      expect(await since(0)).toEqual([edited, deleted, reacted]);
      expect(await since(6)).toEqual([deleted, reacted]);
      expect(await since(6, 1)).toEqual([deleted]);
      expect(await since(60)).toEqual([]);
      expect(await one.store.changedSince(await newRoom(), 0, 10)).toEqual([]);
    });

    it('replaces a message only from the version it was made from, and publishes each replacement once', async () => {
      const two = await deployment.open();
      const roomId = await newRoom();
      const inbox = await watch(one.bus, roomId);
      const { message } = await one.store.append(draft(roomId, 'original'), WINDOW_MS);
      const edited = later(message, { content: 'edited', is_edited: true });
      const deleted = later(message, { content: '', is_deleted: true });
      const [editWon, deleteWon] = await Promise.all([
        one.store.replace(edited, message, 'message_updated'),
        two.store.replace(deleted, message, 'message_deleted'),
      ]);
      expect([editWon, deleteWon].sort()).toEqual([false, true]);
      const winner = editWon ? edited : deleted;
      expect(await one.store.get(roomId, message.message_id)).toEqual(winner);
      const tombstone = later(winner, { content: '', is_deleted: true });
      expect(await two.store.replace(tombstone, winner, 'message_deleted')).toBe(true);
      expect(await one.store.replace(later(message, { content: 'stale' }), message, 'message_updated')).toBe(false);
      expect(await one.store.replace(later(message, { message_id: randomUUID() }), message, 'message_updated')).toBe(false);

      const events = await eventsThrough(one, inbox, roomId);
      expect(events.slice(1, -1)).toEqual([
        editWon
          ? { type: 'message_updated', data: edited }
          : { type: 'message_deleted', data: { room_id: roomId, message_id: message.message_id } },
        { type: 'message_deleted', data: { room_id: roomId, message_id: message.message_id } },
      ]);
      expect(await two.store.get(roomId, message.message_id)).toEqual(tombstone);
    });
  });
}
