// Counts the Redis round trips (commands sent; a script or a pipeline is one) of each operation on the
// message path, sending a message included (store, read position, typing). Run:
// `npx tsx bench/redis-round-trips.ts` (REDIS_URL picks the Redis; keys go under a fresh prefix, deleted after).
import { RedisBus } from '../src/bus/redis.bus.js';
import { parseEnvironment } from '../src/config/environment.js';
import { toSettings } from '../src/config/settings.js';
import { SignedUrls } from '../src/files/signed-urls.js';
import { MessagesService } from '../src/messages/messages.service.js';
import { ReadStateService } from '../src/messages/read-state.service.js';
import { RedisMessageStore } from '../src/messages/redis-message.store.js';
import { RedisReadStore } from '../src/messages/redis-read.store.js';
import { PresenceService } from '../src/presence/presence.service.js';
import { RedisPresenceStore } from '../src/presence/redis-presence.store.js';
import { RedisService } from '../src/redis/redis.service.js';
import { createRooms } from './lib/rooms.js';

const prefix = `round-trips:${Math.random().toString(36).slice(2, 8)}:`;
const settings = toSettings(
  parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix }),
);

const redis = new RedisService(settings);
await redis.onModuleInit();
let sent = 0;
const sendCommand = redis.client.sendCommand.bind(redis.client);
redis.client.sendCommand = ((command: { inTransaction?: boolean }) => {
  if (!command.inTransaction) sent += 1;
  return sendCommand(command as never);
}) as typeof redis.client.sendCommand;

const bus = new RedisBus(redis);
const store = new RedisMessageStore(redis, settings.messages.historyMaxPerRoom);
const presence = new PresenceService(new RedisPresenceStore(redis, bus, settings.redis.instanceTtlMs), bus, settings);
const reads = new ReadStateService(new RedisReadStore(redis), store, bus);
const messages = new MessagesService(store, presence, settings, new SignedUrls('key', 3600, '/files/'), undefined, reads);
const roomId = '0b5f9a52-4c1e-4f7a-9d2b-1c3e5a7b9d01';
const draft = { room_id: roomId, sender_id: 'a', content: 'x', message_type: 'text', parent_message_id: null, client_msg_id: null };
await createRooms(redis, [roomId]);
for (let i = 0; i < 20; i++) await store.append(draft, 60_000);
const [first] = (await store.readAfter(roomId, 0, 1)).messages;
const { epoch } = await store.head(roomId);

const measure = async (name: string, operation: () => Promise<unknown>) => {
  // Once unmeasured: a script's first call on a Redis that has not seen it also loads it (EVALSHA, then EVAL).
  await operation();
  sent = 0;
  await operation();
  // Let what a call starts without waiting for (ending typing) be counted too.
  await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`${name.padEnd(40)} ${sent}`);
};
try {
  await measure('send a message (MessagesService.send)', () => messages.send('a', roomId, { content: 'x' }));
  let clientId = 0;
  await measure('send, with a client_msg_id', () => messages.send('a', roomId, { content: 'x', client_msg_id: `c${++clientId}` }));
  await measure('append (the store alone)', () => store.append(draft, 60_000));
  await measure('readAfter (nothing edited)', () => store.readAfter(roomId, 5, 10));
  await measure('get', () => store.get(roomId, first.message_id));
  await measure('page', () => store.page(roomId, undefined, 10));
  const latest = (await store.head(roomId)).seq;
  await measure('recover, 5 behind', () => messages.recover(roomId, { seq: latest - 5, epoch }, 1000));
  await measure('recover, refused (another epoch)', () => messages.recover(roomId, { seq: 0, epoch: 'other' }, 1000));
} finally {
  await redis.client.eval(`for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end`, 0, `${prefix}*`);
  await redis.onApplicationShutdown();
}
