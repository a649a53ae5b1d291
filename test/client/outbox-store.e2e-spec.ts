import { localStorageOutboxStore, type LocksLike, type OutboxEntry, type OutboxStore } from '../../client/src/index.js';

/** `localStorage` as the pages of one origin share it. */
function sharedStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
    get length() {
      return items.size;
    },
    key: (index: number) => [...items.keys()][index] ?? null,
    keys: () => [...items.keys()],
  };
}

/** Web Locks as the pages of one origin share them: a page's locks go when it closes, and the next waiter gets each. */
function sharedLocks() {
  const owners = new Map<string, object>();
  const waiting = new Map<string, Array<{ page: object; grant: () => void }>>();
  const closed = new Set<object>();
  const grant = (name: string, page: object, callback: () => Promise<unknown>) => {
    owners.set(name, page);
    void callback().finally(() => release(name));
  };
  const release = (name: string) => {
    owners.delete(name);
    const queue = (waiting.get(name) ?? []).filter((waiter) => !closed.has(waiter.page));
    const next = queue.shift();
    waiting.set(name, queue);
    next?.grant();
  };
  return {
    page(): { locks: LocksLike; close(): void } {
      const page = {};
      return {
        locks: {
          request: async (name, callback) => {
            if (!owners.has(name)) return grant(name, page, callback);
            waiting.set(name, [...(waiting.get(name) ?? []), { page, grant: () => grant(name, page, callback) }]);
          },
        },
        close: () => {
          closed.add(page);
          for (const [name, owner] of [...owners]) if (owner === page) release(name);
        },
      };
    },
  };
}

const entry = (id: string, at = '2026-01-01T00:00:00.000Z'): OutboxEntry => ({ client_msg_id: id, room_id: 'r', content: id, created_at: at });
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A page's store, and what it took over from other pages' slots. */
function openPage(storage: ReturnType<typeof sharedStorage>, locks: ReturnType<typeof sharedLocks>) {
  const page = locks.page();
  const store: OutboxStore = localStorageOutboxStore('outbox:alice', storage, page.locks);
  const adopted: OutboxEntry[] = [];
  store.load();
  store.adopt?.((entries) => adopted.push(...entries));
  return { store, adopted, close: page.close };
}

describe('localStorageOutboxStore', () => {
  it('keeps each page in a slot of its own: no page writes over another, whatever it read before', async () => {
    const storage = sharedStorage();
    const locks = sharedLocks();
    const tabA = openPage(storage, locks);
    const tabB = openPage(storage, locks);
    tabA.store.save([entry('a1'), entry('a2')]);
    tabB.store.save([entry('b1')]);
    // Tab A's a1 is confirmed while tab B, which never saw it go, saves again: nothing of A's comes back.
    tabA.store.save([entry('a2')]);
    tabB.store.save([entry('b1'), entry('b2')]);
    const slots = storage.keys().sort();
    expect(slots).toHaveLength(2);
    expect(slots.map((slot) => JSON.parse(storage.getItem(slot) as string).entries.map((e: OutboxEntry) => e.client_msg_id)).sort()).toEqual([['a2'], ['b1', 'b2']]);
    await settle();
    // Both pages are open: neither takes the other's messages.
    expect([tabA.adopted, tabB.adopted]).toEqual([[], []]);
    tabA.store.save([]);
    tabB.store.save([]);
    expect(storage.keys()).toEqual([]);
  });

  it("hands a closed page's messages to one page that is still open, once, and removes its slot", async () => {
    const storage = sharedStorage();
    const locks = sharedLocks();
    const tabA = openPage(storage, locks);
    tabA.store.save([entry('a1')]);
    const tabB = openPage(storage, locks);
    const tabC = openPage(storage, locks);
    await settle();
    tabA.close();
    await settle();
    expect([...tabB.adopted, ...tabC.adopted]).toEqual([entry('a1')]);
    expect(storage.keys()).toEqual([]);
  });

  it('gives a reloaded page what it had queued, and a queue kept under the key itself (earlier versions)', async () => {
    const storage = sharedStorage();
    storage.setItem('outbox:alice', JSON.stringify([entry('old')]));
    const locks = sharedLocks();
    const first = openPage(storage, locks);
    await settle();
    expect(first.adopted).toEqual([entry('old')]);
    first.store.save([entry('old'), entry('typed offline')]);
    first.close();
    const reloaded = openPage(storage, locks);
    await settle();
    expect(reloaded.adopted).toEqual([entry('old'), entry('typed offline')]);
  });

  it("takes over only this key's queues: never another user's whose key starts the same, nor another value of the app", async () => {
    const storage = sharedStorage();
    const locks = sharedLocks();
    storage.setItem('outbox:alice:x', JSON.stringify([entry('x-legacy')]));
    storage.setItem('outbox:alice:settings', '{"theme":"dark"}');
    storage.setItem('outbox:alice:slot:not-a-queue', '{"theme":"dark"}');
    const other = localStorageOutboxStore('outbox:alice:x', storage, locks.page().locks);
    other.save([entry('x-new')]);
    const alice = openPage(storage, locks);
    await settle();
    expect(alice.adopted).toEqual([]);
    const keys = storage.keys().sort();
    expect(keys.filter((name) => !name.startsWith('outbox:alice:x:slot:'))).toEqual(['outbox:alice:settings', 'outbox:alice:slot:not-a-queue', 'outbox:alice:x']);
    expect(keys.filter((name) => name.startsWith('outbox:alice:x:slot:'))).toHaveLength(1);
  });

  it('lets a client closed for good hand its queue to the next client of the same page', async () => {
    const storage = sharedStorage();
    const locks = sharedLocks();
    const page = locks.page();
    const first = localStorageOutboxStore('outbox:alice', storage, page.locks);
    first.load();
    first.adopt?.(() => undefined);
    first.save([entry('m1')]);
    first.close?.();
    const second = localStorageOutboxStore('outbox:alice', storage, page.locks);
    const adopted: OutboxEntry[] = [];
    second.load();
    second.adopt?.((entries) => adopted.push(...entries));
    await settle();
    expect(adopted).toEqual([entry('m1')]);
  });

  describe('without Web Locks: one key for every tab, each saving only its changes', () => {
    it('keeps what another tab queued under the same key when this tab saves its own queue', () => {
      const storage = sharedStorage();
      const tabA = localStorageOutboxStore('outbox:alice', storage, null);
      expect(tabA.load()).toEqual([]);
      tabA.save([entry('m1')]);
      const tabB = localStorageOutboxStore('outbox:alice', storage, null);
      expect(tabB.load()).toEqual([entry('m1')]);
      tabA.save([entry('m1'), entry('m2')]);
      // Tab B got m1 confirmed: its queue is empty now, but m2 is tab A's and still waits.
      tabB.save([]);
      expect(localStorageOutboxStore('outbox:alice', storage, null).load()).toEqual([entry('m2')]);
      tabB.save([entry('m3')]);
      tabA.save([]);
      // Tab A's confirmations took m1 and m2 away; m3, which tab A never held, stays.
      expect(localStorageOutboxStore('outbox:alice', storage, null).load()).toEqual([entry('m3')]);
      tabB.save([]);
      expect(storage.getItem('outbox:alice')).toBeNull();
    });

    it('does not write back what another tab settled, though this tab had loaded it', () => {
      const storage = sharedStorage();
      const tabA = localStorageOutboxStore('outbox:alice', storage, null);
      tabA.load();
      tabA.save([entry('m1')]);
      const tabB = localStorageOutboxStore('outbox:alice', storage, null);
      expect(tabB.load()).toEqual([entry('m1')]);
      // Tab A's m1 is confirmed; tab B, still holding it, queues m2.
      tabA.save([]);
      tabB.save([entry('m1'), entry('m2')]);
      expect(localStorageOutboxStore('outbox:alice', storage, null).load()).toEqual([entry('m2')]);
    });
  });
});
