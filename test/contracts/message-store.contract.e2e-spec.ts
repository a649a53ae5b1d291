import { MemoryBus } from '../../src/bus/memory.bus.js';
import { RedisBus } from '../../src/bus/redis.bus.js';
import { MemoryMessageStore } from '../../src/messages/memory-message.store.js';
import { RedisMessageStore } from '../../src/messages/redis-message.store.js';
import { recordNestLogs } from '../support/logs.js';
import { testSettings } from '../support/settings.js';
import { describeMessageStoreContract } from './message-store.contract.js';
import { RedisDeployment } from './redis-deployment.js';

recordNestLogs();

describeMessageStoreContract(MemoryMessageStore.name, async ({ historyMaxPerRoom }) => {
  const bus = new MemoryBus();
  const store = new MemoryMessageStore(bus, testSettings({ HISTORY_MAX_PER_ROOM: historyMaxPerRoom }));
  return { open: async () => ({ store, bus }), close: async () => undefined };
});

describeMessageStoreContract(RedisMessageStore.name, async ({ historyMaxPerRoom }) => {
  const redis = await RedisDeployment.start();
  const open = async () => {
    const instance = await redis.instance();
    const bus = new RedisBus(instance);
    bus.onModuleInit();
    return { store: new RedisMessageStore(instance, historyMaxPerRoom), bus };
  };
  return { open, close: () => redis.close() };
});
