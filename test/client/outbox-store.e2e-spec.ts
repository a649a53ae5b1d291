import { localStorageOutboxStore, type OutboxEntry } from '../../client/src/index.js';

/** `localStorage` as two tabs of one origin share it. */
function sharedStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
}

const entry = (id: string): OutboxEntry => ({ client_msg_id: id, room_id: 'r', content: id, created_at: '2026-01-01T00:00:00.000Z' });

describe('localStorageOutboxStore', () => {
  it('keeps what another tab queued under the same key when this tab saves its own queue', () => {
    const storage = sharedStorage();
    const tabA = localStorageOutboxStore('outbox:alice', storage);
    expect(tabA.load()).toEqual([]);
    tabA.save([entry('m1')]);
    const tabB = localStorageOutboxStore('outbox:alice', storage);
    expect(tabB.load()).toEqual([entry('m1')]);
    tabA.save([entry('m1'), entry('m2')]);
    // Tab B got m1 confirmed: its queue is empty now, but m2 is tab A's and still waits.
    tabB.save([]);
    expect(localStorageOutboxStore('outbox:alice', storage).load()).toEqual([entry('m2')]);
    tabB.save([entry('m3')]);
    tabA.save([]);
    // Tab A's confirmations took m1 and m2 away; m3, which tab A never held, stays.
    expect(localStorageOutboxStore('outbox:alice', storage).load()).toEqual([entry('m3')]);
    tabB.save([]);
    expect(storage.getItem('outbox:alice')).toBeNull();
  });

  it('does not write back what another tab settled, though this tab had loaded it', () => {
    const storage = sharedStorage();
    const tabA = localStorageOutboxStore('outbox:alice', storage);
    tabA.load();
    tabA.save([entry('m1')]);
    const tabB = localStorageOutboxStore('outbox:alice', storage);
    expect(tabB.load()).toEqual([entry('m1')]);
    // Tab A's m1 is confirmed; tab B, still holding it, queues m2.
    tabA.save([]);
    tabB.save([entry('m1'), entry('m2')]);
    expect(localStorageOutboxStore('outbox:alice', storage).load()).toEqual([entry('m2')]);
  });
});
