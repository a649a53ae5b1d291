import { MemoryRoomStore } from '../../src/rooms/memory-room.store.js';
import { RedisRoomStore } from '../../src/rooms/redis-room.store.js';
import { recordNestLogs } from '../support/logs.js';
import { RedisDeployment } from './redis-deployment.js';
import { describeRoomStoreContract } from './room-store.contract.js';

recordNestLogs();

describeRoomStoreContract(MemoryRoomStore.name, async () => {
  const store = new MemoryRoomStore();
  return { open: async () => store, close: async () => undefined };
});

describeRoomStoreContract(
  RedisRoomStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    return { open: async () => new RedisRoomStore(await redis.instance()), cutOff: () => redis.cutOff(), close: () => redis.close() };
  },
  { shared: true },
);
