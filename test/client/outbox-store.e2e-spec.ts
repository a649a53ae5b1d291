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
    expect(slots.map((slot) => JSON.parse(storage.getItem(slot) as string).map((e: OutboxEntry) => e.client_msg_id)).sort()).toEqual([['a2'], ['b1', 'b2']]);
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

  it('keeps the queue under the key itself without Web Locks (no tabs)', () => {
    const storage = sharedStorage();
    const store = localStorageOutboxStore('outbox:alice', storage, null);
    store.save([entry('m1')]);
    expect(storage.keys()).toEqual(['outbox:alice']);
    expect(localStorageOutboxStore('outbox:alice', storage, null).load()).toEqual([entry('m1')]);
    store.save([]);
    expect(storage.getItem('outbox:alice')).toBeNull();
  });
});
