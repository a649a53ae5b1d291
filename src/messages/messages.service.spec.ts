import { MemoryBus } from '../bus/memory.bus.js';
import { parseEnvironment } from '../config/environment.js';
import { toSettings } from '../config/settings.js';
import { MemoryPresenceStore } from '../presence/memory-presence.store.js';
import { PresenceService } from '../presence/presence.service.js';
import { MemoryMessageStore } from './memory-message.store.js';
import { MessagesService } from './messages.service.js';
import { logs, recordNestLogs } from '../../test/support/logs.js';
import { SignedUrls } from '../files/signed-urls.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';

const settings = toSettings(parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) }));

/** A message store whose compare-and-set never agrees, as a damaged shared store could. */
class NeverAgreeingStore extends MemoryMessageStore {
  replaces = 0;
  override async replace(): Promise<boolean> {
    this.replaces += 1;
    return false;
  }
}

/** A presence store whose stop fails, as a shared store can after the message was committed. */
class FailingStopStore extends MemoryPresenceStore {
  stops = 0;
  override async stopTyping(): Promise<undefined> {
    this.stops += 1;
    throw new Error('the presence store is down');
  }
}

describe(MessagesService.name, () => {
  recordNestLogs();

  it('reports a committed send as sent even when ending the sender’s typing fails', async () => {
    const bus = new MemoryBus();
    const presenceStore = new FailingStopStore();
    const store = new MemoryMessageStore(bus, settings);
    const messages = new MessagesService(store, new PresenceService(presenceStore, bus, settings), settings, new SignedUrls('key', 3600, '/files/'));
    const { message, duplicate } = await messages.send('alice', 'r1', { content: 'hello' });
    expect(duplicate).toBe(false);
    expect(message).toMatchObject({ seq: 1, content: 'hello' });
    expect((await store.readAfter('r1', 0, 10)).messages).toEqual([message]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceStore.stops).toBe(1);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', context: MessagesService.name, text: expect.stringContaining('the presence store is down') }),
    );
  });

  it('gives up an edit whose compare never succeeds, answering unavailable instead of retrying for ever', async () => {
    const bus = new MemoryBus();
    const store = new NeverAgreeingStore(bus, settings);
    const messages = new MessagesService(store, new PresenceService(new MemoryPresenceStore(), bus, settings), settings, new SignedUrls('key', 3600, '/files/'));
    const { message } = await messages.send('alice', 'r1', { content: 'hello' });
    await expect(messages.edit('alice', 'r1', message.message_id, 'changed')).rejects.toThrow(StoreUnavailableError);
    expect(store.replaces).toBe(50);
    expect(logs.take('warn', /^Gave up changing a message after 50 compares lost with no other change made$/, MessagesService.name)).toHaveLength(1);
  });
});
