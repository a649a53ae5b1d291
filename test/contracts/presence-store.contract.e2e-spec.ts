import { MemoryPresenceStore } from '../../src/presence/memory-presence.store.js';
import { RedisPresenceStore } from '../../src/presence/redis-presence.store.js';
import { recordNestLogs } from '../support/logs.js';
import { describePresenceStoreContract } from './presence-store.contract.js';
import { RedisDeployment } from './redis-deployment.js';

/** Long enough that no instance of a test is reaped while it runs. */
const INSTANCE_TTL_MS = 60_000;

recordNestLogs();

describePresenceStoreContract(MemoryPresenceStore.name, async () => {
  const store = new MemoryPresenceStore();
  return { open: async () => store, close: async () => undefined };
});

describePresenceStoreContract(
  RedisPresenceStore.name,
  async () => {
    const redis = await RedisDeployment.start();
    const open = async () => {
      const store = new RedisPresenceStore(await redis.instance(), INSTANCE_TTL_MS);
      store.onModuleInit();
      redis.onClose(() => store.onModuleDestroy());
      return store;
    };
    return { open, cutOff: () => redis.cutOff(), close: () => redis.close() };
  },
  { shared: true },
);
