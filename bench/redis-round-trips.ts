// Counts the Redis round trips (commands sent; a script or a pipeline is one) of each message-store
// operation on the message path. Run: `npx tsx bench/redis-round-trips.ts` (REDIS_URL picks the Redis).
import type { Settings } from '../src/config/settings.js';
import { MessagesService } from '../src/messages/messages.service.js';
import { RedisMessageStore } from '../src/messages/redis-message.store.js';
import type { PresenceService } from '../src/presence/presence.service.js';
import { RedisService } from '../src/redis/redis.service.js';
import { SignedUrls } from '../src/files/signed-urls.js';

const prefix = `round-trips:${Math.random().toString(36).slice(2, 8)}:`;
const settings = {
  redis: { enabled: true, url: process.env.REDIS_URL || 'redis://127.0.0.1:6379', wait: { replicas: 0, timeoutMs: 500 }, keyPrefix: prefix, commandTimeoutMs: 2000, connectTimeoutMs: 2000, reconnect: { baseMs: 100, maxMs: 1000 } },
  messages: { dedupWindowMs: 60_000, historyMaxPerRoom: 10_000, recoveryMaxMessages: 1000 },
  limits: { maxMessageLength: 4000 },
} as unknown as Settings;

const redis = new RedisService(settings);
await redis.onModuleInit();
let sent = 0;
const sendCommand = redis.client.sendCommand.bind(redis.client);
redis.client.sendCommand = ((command: { inTransaction?: boolean }) => {
  if (!command.inTransaction) sent += 1;
  return sendCommand(command as never);
}) as typeof redis.client.sendCommand;

const store = new RedisMessageStore(redis, 10_000);
const messages = new MessagesService(store, { stopTyping: async () => {} } as unknown as PresenceService, settings, new SignedUrls('key', 3600, '/files/'));
const draft = { room_id: 'r1', sender_id: 'a', content: 'x', message_type: 'text', parent_message_id: null, client_msg_id: null };
for (let i = 0; i < 20; i++) await store.append(draft, 60_000);
const [first] = (await store.readAfter('r1', 0, 1)).messages;
const { epoch } = await store.head('r1');

const measure = async (name: string, operation: () => Promise<unknown>) => {
  sent = 0;
  await operation();
  console.log(`${name.padEnd(36)} ${sent}`);
};
try {
  await measure('append', () => store.append(draft, 60_000));
  await measure('readAfter (nothing edited)', () => store.readAfter('r1', 5, 10));
  await measure('get', () => store.get('r1', first.message_id));
  await measure('page', () => store.page('r1', undefined, 10));
  await measure('recover, 5 behind', () => messages.recover('r1', { seq: 16, epoch }, 1000));
  await measure('recover, refused (another epoch)', () => messages.recover('r1', { seq: 0, epoch: 'other' }, 1000));
} finally {
  await redis.client.eval(`for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end`, 0, `${prefix}*`);
  await redis.onApplicationShutdown();
}
