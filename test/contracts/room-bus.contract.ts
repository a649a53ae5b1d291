import { randomUUID } from 'node:crypto';
import type { RoomBus } from '../../src/bus/room-bus.js';
import type { RoomEvent } from '../../src/bus/room-event.js';
import { waitFor } from '../../scripts/processes.mjs';
import { Inbox, type Received } from './inbox.js';
import { logs, recordNestLogs } from '../support/logs.js';

export interface BusHandle {
  bus: RoomBus;
  close(): Promise<void>;
}

export const typing = (label: string): RoomEvent => ({ type: 'typing', data: { user_id: label, connection_id: 'c-1' } });
export const labels = (received: Received[]): string[] => received.map((r) => (r.event.data as { user_id: string }).user_id);
export const newRoom = (): string => `room-${randomUUID()}`;

/** The `RoomBus` contract (src/bus/room-bus.ts), for any implementation. */
export function describeBusContract(name: string, make: () => Promise<BusHandle>): void {
  // A failing listener is logged; the test takes that line.
  recordNestLogs();
  describe(`${name} honours the RoomBus contract`, () => {
    let handle: BusHandle;
    beforeEach(async () => {
      handle = await make();
    });
    afterEach(async () => {
      await handle.close();
    });

    it('delivers a subscribed room’s events, its own publishes included, to every listener, once each, in publish order', async () => {
      const [first, second] = [new Inbox(), new Inbox()];
      handle.bus.onEvent(first.listener);
      handle.bus.onEvent(second.listener);
      const roomId = newRoom();
      await handle.bus.subscribe(roomId);
      const expected = Array.from({ length: 50 }, (_, i) => `e${i}`);
      await Promise.all(expected.map((label) => handle.bus.publish(roomId, typing(label))));
      const sentinel = typing('sentinel');
      await handle.bus.publish(roomId, sentinel);
      for (const inbox of [first, second]) {
        const received = await inbox.through(sentinel);
        expect(labels(received)).toEqual([...expected, 'sentinel']);
        expect(received.every((r) => r.roomId === roomId)).toBe(true);
      }
    });

    it('delivers a subscribed user’s events in publish order, and nothing of users not or no longer subscribed', async () => {
      const received: Array<[string, string]> = [];
      handle.bus.onUserEvent((userId, event) => received.push([userId, event.data.room_id]));
      const [watched, never, dropped] = [`u-${randomUUID()}`, `u-${randomUUID()}`, `u-${randomUUID()}`];
      await handle.bus.subscribeUser(watched);
      await handle.bus.subscribeUser(dropped);
      await handle.bus.unsubscribeUser(dropped);
      for (const userId of [never, dropped]) await handle.bus.publishToUser(userId, { type: 'room_added', data: { room_id: 'r-x' } });
      for (const roomId of ['r-1', 'r-2', 'r-3']) await handle.bus.publishToUser(watched, { type: 'room_updated', data: { room_id: roomId } });
      await waitFor(() => received.length >= 3, 3000, 'three user events');
      expect(received).toEqual([[watched, 'r-1'], [watched, 'r-2'], [watched, 'r-3']]);
    });

    it('never calls a listener inside publish', async () => {
      const inbox = new Inbox();
      handle.bus.onEvent(inbox.listener);
      const roomId = newRoom();
      await handle.bus.subscribe(roomId);
      const publishing = handle.bus.publish(roomId, typing('async'));
      expect(inbox.received).toHaveLength(0);
      await publishing;
      expect(labels(await inbox.until(1))).toEqual(['async']);
    });

    it('still delivers to the other listeners when one throws', async () => {
      const inbox = new Inbox();
      handle.bus.onEvent(() => {
        throw new Error('a failing listener');
      });
      handle.bus.onEvent(inbox.listener);
      const roomId = newRoom();
      await handle.bus.subscribe(roomId);
      await handle.bus.publish(roomId, typing('one'));
      await handle.bus.publish(roomId, typing('two'));
      expect(labels(await inbox.until(2))).toEqual(['one', 'two']);
      expect(logs.take('error', /a failing listener/)).toHaveLength(2);
    });

    it('delivers nothing of rooms never subscribed or unsubscribed', async () => {
      const inbox = new Inbox();
      handle.bus.onEvent(inbox.listener);
      const [watched, never, dropped] = [newRoom(), newRoom(), newRoom()];
      await handle.bus.subscribe(watched);
      await handle.bus.subscribe(dropped);
      await handle.bus.unsubscribe(dropped);
      await handle.bus.publish(never, typing('never'));
      await handle.bus.publish(dropped, typing('dropped'));
      const sentinel = typing('sentinel');
      await handle.bus.publish(watched, sentinel);
      const received = await inbox.through(sentinel);
      expect(received).toEqual([{ roomId: watched, event: sentinel }]);
    });
  });
}
