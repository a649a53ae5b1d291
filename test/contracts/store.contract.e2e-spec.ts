// Every store interface against each of its implementations; the Redis ones
// on the tests' Redis with a key prefix per deployment. One file, so the
// application's modules load once for all of them.
import { MemoryBus } from '../../src/bus/memory.bus.js';
import { RedisBus } from '../../src/bus/redis.bus.js';
import type { RoomEvent } from '../../src/core/room-event.js';
import type { RedisService } from '../../src/redis/redis.service.js';
import { MemoryInvitationStore } from '../../src/invitations/memory-invitation.store.js';
import { RedisInvitationStore } from '../../src/invitations/redis-invitation.store.js';
import { MemoryMessageStore } from '../../src/messages/memory-message.store.js';
import { MemoryReadStore } from '../../src/messages/memory-read.store.js';
import { RedisReadStore } from '../../src/messages/redis-read.store.js';
import { RedisMessageStore } from '../../src/messages/redis-message.store.js';
import { MemoryPresenceStore } from '../../src/presence/memory-presence.store.js';
import { LimitKeys } from '../../src/redis/limit-keys.js';
import { RedisPresenceStore } from '../../src/presence/redis-presence.store.js';
import { MemoryRoomStore } from '../../src/rooms/memory-room.store.js';
import { RedisRoomStore } from '../../src/rooms/redis-room.store.js';
import type { RoomStore } from '../../src/rooms/room.store.js';
import { MemoryUserDirectoryStore } from '../../src/users/memory-user-directory.store.js';
import { RedisUserDirectoryStore } from '../../src/users/redis-user-directory.store.js';
import { recordNestLogs } from '../support/logs.js';
import { clusterRedisService } from '../support/redis-cluster.js';
import { uniquePrefix } from '../support/redis.js';
import { testSettings } from '../support/settings.js';
import { describeInvitationStoreContract } from './invitation-store.contract.js';
import { describeMessageStoreContract } from './message-store.contract.js';
import { describePresenceStoreContract } from './presence-store.contract.js';
import { describeReadStoreContract } from './read-store.contract.js';
import { RedisDeployment } from './redis-deployment.js';
import { describeRoomStoreContract, room } from './room-store.contract.js';
import { describeUserDirectoryContract } from './user-directory.contract.js';

/** Long enough that no presence instance of a test is reaped while it runs. */
const INSTANCE_TTL_MS = 60_000;

recordNestLogs();

describeRoomStoreContract(MemoryRoomStore.name, async () => {
  const store = new MemoryRoomStore();
  return { open: async () => store, close: async () => undefined };
});

describeRoomStoreContract(
  RedisRoomStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    return {
      open: async () => new RedisRoomStore(await redis.instance()),
      cutOff: () => redis.cutOff(),
      stallDirectClaim: async (pair, roomId) => {
        const instance = await redis.instance();
        await instance.client.set(new LimitKeys(instance.keys.prefix).directRoom(pair), roomId);
      },
      close: () => redis.close(),
    };
  },
  { shared: true },
);

/** Writes a room as `POST /rooms` would, for the message store's contract. */
const roomWriter = (rooms: RoomStore) => async (roomId: string) => {
  await rooms.create(room('owner', { room_id: roomId }), [], { membersPerRoom: 10, roomsPerUser: 10, roomsCreatedByOwner: null });
};

describeMessageStoreContract(MemoryMessageStore.name, async ({ historyMaxPerRoom }) => {
  const bus = new MemoryBus();
  const store = new MemoryMessageStore(bus, testSettings({ HISTORY_MAX_PER_ROOM: historyMaxPerRoom }));
  return { open: async () => ({ store, bus }), createRoom: roomWriter(new MemoryRoomStore()), close: async () => undefined };
});

describeMessageStoreContract(RedisMessageStore.name, async ({ historyMaxPerRoom }) => {
  const redis = await RedisDeployment.start();
  const open = async () => {
    const instance = await redis.instance();
    const bus = new RedisBus(instance);
    bus.onModuleInit();
    return { store: new RedisMessageStore(instance, historyMaxPerRoom), bus };
  };
  return { open, createRoom: roomWriter(new RedisRoomStore(await redis.instance())), close: () => redis.close() };
});

describe('on a Redis Cluster', () => {
  describeMessageStoreContract(`${RedisMessageStore.name} (cluster)`, async ({ historyMaxPerRoom }) => {
    const prefix = uniquePrefix();
    const instances: Array<Awaited<ReturnType<typeof clusterRedisService>>> = [];
    const open = async () => {
      const instance = await clusterRedisService(prefix);
      instances.push(instance);
      const bus = new RedisBus(instance);
      bus.onModuleInit();
      return { store: new RedisMessageStore(instance, historyMaxPerRoom), bus };
    };
    let rooms: RoomStore | undefined;
    const createRoom = async (roomId: string) => {
      if (!rooms) {
        const instance = await clusterRedisService(prefix);
        instances.push(instance);
        rooms = new RedisRoomStore(instance);
      }
      await roomWriter(rooms)(roomId);
    };
    return { open, createRoom, close: async () => void (await Promise.all(instances.splice(0).map((redis) => redis.onApplicationShutdown()))) };
  });

  /** Instances of one cluster deployment under one prefix, shut down together. */
  const clusterDeployment = <T>(make: (redis: Awaited<ReturnType<typeof clusterRedisService>>) => T) => {
    const prefix = uniquePrefix();
    const instances: Array<Awaited<ReturnType<typeof clusterRedisService>>> = [];
    const open = async () => {
      const instance = await clusterRedisService(prefix);
      instances.push(instance);
      return make(instance);
    };
    return { open, close: async () => void (await Promise.all(instances.splice(0).map((redis) => redis.onApplicationShutdown()))) };
  };
  describeUserDirectoryContract(`${RedisUserDirectoryStore.name} (cluster)`, async () =>
    clusterDeployment((redis) => new RedisUserDirectoryStore(redis)),
  );
  describeReadStoreContract(`${RedisReadStore.name} (cluster)`, async () => {
    const deployment = clusterDeployment((redis) => ({ redis, store: new RedisReadStore(redis) }));
    return {
      open: async () => (await deployment.open()).store,
      heard: async (roomId) => heardOnBus((await deployment.open()).redis, roomId),
      close: deployment.close,
    };
  }, { announces: true });
  describeRoomStoreContract(
    `${RedisRoomStore.name} (cluster)`,
    async () => {
      const deployment = clusterDeployment((redis) => ({ redis, store: new RedisRoomStore(redis) }));
      let first: Awaited<ReturnType<typeof clusterRedisService>> | undefined;
      return {
        open: async () => {
          const opened = await deployment.open();
          first ??= opened.redis;
          return opened.store;
        },
        stallDirectClaim: async (pair, roomId) => {
          await first!.client.set(new LimitKeys(first!.keys.prefix).directRoom(pair), roomId);
        },
        close: deployment.close,
      };
    },
    { stallable: true },
  );
  describePresenceStoreContract(`${RedisPresenceStore.name} (cluster)`, async () => {
    const stores: RedisPresenceStore[] = [];
    const deployment = clusterDeployment((redis) => {
      const store = new RedisPresenceStore(redis, new RedisBus(redis), INSTANCE_TTL_MS);
      store.onModuleInit();
      stores.push(store);
      return { redis, store };
    });
    return {
      open: async () => (await deployment.open()).store,
      // Through the bus of an instance of its own, on the room's sharded channel.
      heard: async (roomId) => heardOnBus((await deployment.open()).redis, roomId),
      close: async () => {
        for (const store of stores.splice(0)) await store.onModuleDestroy();
        await deployment.close();
      },
    };
  }, { announces: true });
  describeInvitationStoreContract(`${RedisInvitationStore.name} (cluster)`, async () =>
    clusterDeployment((redis) => new RedisInvitationStore(redis)),
  );
});

describePresenceStoreContract(MemoryPresenceStore.name, async () => {
  const store = new MemoryPresenceStore();
  return { open: async () => store, close: async () => undefined };
});

describePresenceStoreContract(
  RedisPresenceStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    const open = async () => {
      const instance = await redis.instance();
      const store = new RedisPresenceStore(instance, new RedisBus(instance), INSTANCE_TTL_MS);
      store.onModuleInit();
      redis.onClose(() => store.onModuleDestroy());
      return store;
    };
    return { open, cutOff: () => redis.cutOff(), heard: async (roomId) => heardOnBus(await redis.instance(), roomId), close: () => redis.close() };
  },
  { shared: true, announces: true },
);

describeUserDirectoryContract(MemoryUserDirectoryStore.name, async () => {
  const store = new MemoryUserDirectoryStore();
  return { open: async () => store, close: async () => undefined };
});

describeUserDirectoryContract(
  RedisUserDirectoryStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    return { open: async () => new RedisUserDirectoryStore(await redis.instance()), cutOff: () => redis.cutOff(), close: () => redis.close() };
  },
  { shared: true },
);

describeReadStoreContract(MemoryReadStore.name, async () => {
  const store = new MemoryReadStore();
  return { open: async () => store, close: async () => undefined };
});

describeReadStoreContract(
  RedisReadStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    return {
      open: async () => new RedisReadStore(await redis.instance()),
      heard: async (roomId) => heardOnBus(await redis.instance(), roomId),
      close: () => redis.close(),
    };
  },
  { announces: true },
);

describeInvitationStoreContract(MemoryInvitationStore.name, async () => {
  const store = new MemoryInvitationStore();
  return { open: async () => store, close: async () => undefined };
});

describeInvitationStoreContract(
  RedisInvitationStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    return { open: async () => new RedisInvitationStore(await redis.instance()), cutOff: () => redis.cutOff(), close: () => redis.close() };
  },
  { shared: true },
);

/** What a room's channel carries from now on, as an instance's bus receives it (decoded and checked). */
async function heardOnBus(redis: RedisService, roomId: string): Promise<() => RoomEvent[]> {
  const bus = new RedisBus(redis);
  bus.onModuleInit();
  const events: RoomEvent[] = [];
  bus.onEvent((room, event) => {
    if (room === roomId) events.push(event);
  });
  if (!(await bus.subscribe(roomId))) throw new Error(`could not subscribe ${roomId}`);
  return () => [...events];
}
