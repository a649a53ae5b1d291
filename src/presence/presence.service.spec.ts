import { jest } from '@jest/globals';
import { MemoryBus } from '../bus/memory.bus.js';
import type { RoomEvent } from '../bus/room-event.js';
import { parseEnvironment } from '../config/environment.js';
import { toSettings } from '../config/settings.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import { PresenceService } from './presence.service.js';

const THROTTLE = 1_000;
const TTL = 5_000;

const settings = toSettings(
  parseEnvironment({
    NODE_ENV: 'test',
    JWT_SECRET: 'x'.repeat(32),
    TYPING_THROTTLE_MS: String(THROTTLE),
    TYPING_TTL_MS: String(TTL),
  }),
);

const alice1 = { id: 'c-alice-1', userId: 'alice' };
const alice2 = { id: 'c-alice-2', userId: 'alice' };
const bob = { id: 'c-bob', userId: 'bob' };

describe(PresenceService.name, () => {
  let service: PresenceService;
  let bus: MemoryBus;
  let store: MemoryPresenceStore;
  let events: { roomId: string; event: RoomEvent }[];

  const flush = () => jest.advanceTimersByTimeAsync(0);
  const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);
  const ofType = (type: RoomEvent['type'], roomId = 'r1') =>
    events.filter((e) => e.roomId === roomId && e.event.type === type).map((e) => e.event);

  beforeEach(async () => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
    bus = new MemoryBus();
    store = new MemoryPresenceStore();
    events = [];
    bus.onEvent((roomId, event) => events.push({ roomId, event }));
    await bus.subscribe('r1');
    await bus.subscribe('r2');
    service = new PresenceService(store, bus, settings);
  });

  afterEach(() => {
    service.onModuleDestroy();
    jest.useRealTimers();
  });

  describe('typing', () => {
    it('publishes a start with the user and their connection', async () => {
      await service.typing('r1', alice1, true);
      await flush();

      expect(events).toEqual([{ roomId: 'r1', event: { type: 'typing', data: { user_id: 'alice', connection_id: 'c-alice-1' } } }]);
    });

    it('publishes once per throttle window while the user keeps typing', async () => {
      await service.typing('r1', alice1, true);
      await advance(300);
      await service.typing('r1', alice1, true);
      await advance(THROTTLE - 301);
      await service.typing('r1', alice1, true);
      await flush();
      expect(ofType('typing')).toHaveLength(1);

      await advance(1);
      await service.typing('r1', alice1, true);
      await flush();
      expect(ofType('typing')).toHaveLength(2);

      await advance(THROTTLE);
      await service.typing('r1', alice1, true);
      await flush();
      expect(ofType('typing')).toHaveLength(3);
    });

    it('throttles each user and each room on its own', async () => {
      await service.typing('r1', alice1, true);
      await service.typing('r1', bob, true);
      await service.typing('r2', alice1, true);
      await flush();

      expect(events.map((e) => [e.roomId, e.event.type, (e.event.data as { user_id: string }).user_id])).toEqual([
        ['r1', 'typing', 'alice'],
        ['r1', 'typing', 'bob'],
        ['r2', 'typing', 'alice'],
      ]);
    });

    it('publishes typing_stopped once on an explicit stop', async () => {
      await service.typing('r1', alice1, true);
      await service.typing('r1', alice1, false);
      await service.typing('r1', alice1, false);
      await service.stopTyping('r1', 'alice');
      await flush();

      expect(ofType('typing_stopped')).toEqual([
        { type: 'typing_stopped', data: { user_id: 'alice', connection_id: 'c-alice-1' } },
      ]);
    });

    it('never sends a stop as a typing event', async () => {
      await service.typing('r1', alice1, true);
      await service.typing('r1', alice1, false);
      await flush();

      expect(events.map((e) => e.event.type)).toEqual(['typing', 'typing_stopped']);
    });

    it('does not expire a typing that was stopped explicitly', async () => {
      await service.typing('r1', alice1, true);
      await service.typing('r1', alice1, false);
      await advance(TTL * 3);

      expect(ofType('typing_stopped')).toHaveLength(1);
    });

    it('publishes nothing to stop a user who is not typing', async () => {
      await service.typing('r1', bob, true);
      await flush();
      events.length = 0;

      await service.typing('r1', alice1, false);
      await service.stopTyping('r1', 'alice');
      await service.stopTyping('r2', 'bob');
      await flush();

      expect(events).toEqual([]);
    });

    it('starts a new window after a stop', async () => {
      await service.typing('r1', alice1, true);
      await service.typing('r1', alice1, false);
      await advance(100);
      await service.typing('r1', alice1, true);
      await flush();

      expect(events.map((e) => e.event.type)).toEqual(['typing', 'typing_stopped', 'typing']);
    });

    it('expires by itself the TTL after the start and publishes the stop once', async () => {
      await service.typing('r1', alice1, true);
      await advance(TTL - 1);
      expect(ofType('typing_stopped')).toEqual([]);

      await advance(1);
      expect(ofType('typing_stopped')).toEqual([
        { type: 'typing_stopped', data: { user_id: 'alice', connection_id: 'c-alice-1' } },
      ]);

      await advance(TTL * 3);
      await service.stopTyping('r1', 'alice');
      await flush();
      expect(ofType('typing_stopped')).toHaveLength(1);
    });

    it('publishes the expiry even when its timer fires a millisecond early by the wall clock', async () => {
      const start = Date.now();
      await service.typing('r1', alice1, true);
      jest.setSystemTime(start - 1);

      await advance(TTL + 1_000);

      expect(ofType('typing_stopped')).toEqual([
        { type: 'typing_stopped', data: { user_id: 'alice', connection_id: 'c-alice-1' } },
      ]);
    });

    it('counts the TTL from the latest start, broadcast or not', async () => {
      await service.typing('r1', alice1, true);
      await advance(500);
      await service.typing('r1', alice1, true);
      await advance(TTL - 1);
      expect(ofType('typing_stopped')).toEqual([]);
      expect(ofType('typing')).toHaveLength(1);

      await advance(1);
      expect(ofType('typing_stopped')).toHaveLength(1);
    });

    it('expires each typist of a room on their own schedule', async () => {
      await service.typing('r1', alice1, true);
      await advance(2_000);
      await service.typing('r1', bob, true);

      await advance(TTL - 2_000);
      expect(ofType('typing_stopped').map((e) => (e.data as { user_id: string }).user_id)).toEqual(['alice']);

      await advance(2_000);
      expect(ofType('typing_stopped').map((e) => (e.data as { user_id: string }).user_id)).toEqual(['alice', 'bob']);
    });

    it('stops on behalf of the connection whose start was broadcast', async () => {
      await service.joined('r1', alice1);
      await service.joined('r1', alice2);
      await service.typing('r1', alice1, true);
      await service.typing('r1', alice2, true);
      await advance(TTL);

      expect(ofType('typing_stopped')).toEqual([
        { type: 'typing_stopped', data: { user_id: 'alice', connection_id: 'c-alice-1' } },
      ]);
    });
  });

  describe('presence', () => {
    it('publishes online on the first connection only and lists the joiner', async () => {
      const first = await service.joined('r1', alice1);
      const second = await service.joined('r1', alice2);
      await flush();

      expect(first.online).toEqual(['alice']);
      expect(second.online).toEqual(['alice']);
      expect(ofType('presence')).toEqual([
        { type: 'presence', data: { user_id: 'alice', status: 'online', connection_id: 'c-alice-1' } },
      ]);
    });

    it('lists everyone online in the room', async () => {
      await service.joined('r1', alice1);
      const { online } = await service.joined('r1', bob);

      expect(online.sort()).toEqual(['alice', 'bob']);
    });

    it('publishes offline on the last connection only', async () => {
      await service.joined('r1', alice1);
      await service.joined('r1', alice2);
      await flush();
      events.length = 0;

      await service.left('r1', alice1);
      await flush();
      expect(events).toEqual([]);

      await service.left('r1', alice2);
      await flush();
      expect(events).toEqual([
        { roomId: 'r1', event: { type: 'presence', data: { user_id: 'alice', status: 'offline', connection_id: 'c-alice-2' } } },
      ]);
    });

    it('publishes nothing for a connection that never joined', async () => {
      await service.joined('r1', alice1);
      await flush();
      events.length = 0;

      await service.left('r1', alice2);
      await service.left('r2', alice1);
      await flush();

      expect(events).toEqual([]);
    });

    it('lists who is typing to a joiner, without expired typists', async () => {
      await service.joined('r1', alice1);
      await service.typing('r1', alice1, true);

      expect((await service.joined('r1', bob)).typing).toEqual(['alice']);

      await service.left('r1', bob);
      await advance(TTL);
      expect((await service.joined('r1', bob)).typing).toEqual([]);
    });
  });

  describe('leaving', () => {
    it('clears the typing of a user whose last connection leaves, before going offline', async () => {
      await service.joined('r1', alice1);
      await service.typing('r1', alice1, true);
      await flush();
      events.length = 0;

      await service.left('r1', alice1);
      await flush();

      expect(events.map((e) => e.event)).toEqual([
        { type: 'typing_stopped', data: { user_id: 'alice', connection_id: 'c-alice-1' } },
        { type: 'presence', data: { user_id: 'alice', status: 'offline', connection_id: 'c-alice-1' } },
      ]);
    });

    it('does not publish the cleared typing again when it would have expired', async () => {
      await service.joined('r1', alice1);
      await service.typing('r1', alice1, true);
      await service.left('r1', alice1);
      await advance(TTL * 3);

      expect(ofType('typing_stopped')).toHaveLength(1);
    });

    it('keeps the typing while another connection of the user stays', async () => {
      await service.joined('r1', alice1);
      await service.joined('r1', alice2);
      await service.typing('r1', alice1, true);
      await flush();
      events.length = 0;

      await service.left('r1', alice1);
      await flush();

      expect(events).toEqual([]);
      expect((await service.joined('r1', bob)).typing).toEqual(['alice']);
    });

    it('leaves nobody online or typing after the last connection left', async () => {
      await service.joined('r1', alice1);
      await service.typing('r1', alice1, true);
      await service.left('r1', alice1);

      const seen = await service.joined('r1', bob);

      expect(seen).toEqual({ online: ['bob'], typing: [] });
    });
  });

  describe('watching typing started through another instance', () => {
    it('ends it at the TTL when that instance stopped without ending it, and stops watching once the room has no connection here', async () => {
      // `service` is this instance, serving r1 (its bus wants it); `other` is the instance the typing went through.
      const other = new PresenceService(store, bus, settings);
      service.onModuleInit();
      await service.joined('r1', bob);
      await other.typing('r1', alice1, true);
      other.onModuleDestroy();
      await advance(TTL);
      expect(ofType('typing_stopped')).toEqual([{ type: 'typing_stopped', data: { user_id: 'alice', connection_id: 'c-alice-1' } }]);

      await other.typing('r1', alice1, true);
      other.onModuleDestroy();
      await flush();
      expect(jest.getTimerCount()).toBe(1);
      await bus.unsubscribe('r1');
      await service.left('r1', bob);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
