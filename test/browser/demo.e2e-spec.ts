// The demo page in real headless Chromium: two people chatting, a page going
// offline, a server restart, an instance killed under a page, a reload with
// messages still queued. Each ends with a screenshot of every page under
// test/artifacts/ (not committed).
import { jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort } from '../../scripts/processes.mjs';
import { startService, waitFor, type Service } from '../client/support.js';
import { redisEnv } from '../support/instances.js';
import { LinkProxy } from '../support/redis.js';
import { createRoom } from '../support/rest.js';
import { token } from '../support/tokens.js';
import { launchChromium } from './chromium.js';
import { buildDemo, DEMO_ENV, ensureBuilt, spawnService, type Process } from './instances.js';
import { startProxy, type TestProxy } from './proxy.js';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const LONG = 25_000;
const SUITE = 'the demo page in Chromium';
// One step may wait up to LONG (a page's reconnect backoff reaches 8 s after a few
// seconds down), and a scenario has several: the default 20 s would cut it short.
jest.setTimeout(4 * LONG);

let browser: Browser;
const contexts: BrowserContext[] = [];
const pages: Array<{ name: string; page: Page }> = [];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  buildDemo();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
}, 60_000);

afterEach(async () => {
  const scenario = (expect.getState().currentTestName ?? 'scenario').replace(SUITE, '').trim().replace(/[^\w]+/g, '-').slice(0, 50);
  for (const { name, page } of pages.splice(0)) {
    await page.screenshot({ path: `${ARTIFACTS}${scenario}-${name}.png` }).catch(() => undefined);
  }
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await browser?.close();
});

/** Deletes a room's history in Redis, the room itself kept: a Redis restored from an old copy, or keys deleted by hand. */
async function resetHistory(env: { REDIS_URL?: unknown; REDIS_KEY_PREFIX?: unknown }, roomId: string): Promise<void> {
  const redis = new Redis(String(env.REDIS_URL));
  try {
    await redis.del(...['meta', 'log', 'ids', 'versions', 'edits'].map((part) => `${String(env.REDIS_KEY_PREFIX)}chat:{${roomId}}:${part}`));
  } finally {
    await redis.quit();
  }
}

async function service(overrides = {}, port?: number): Promise<Service> {
  const started = await startService({ ...DEMO_ENV, ...overrides }, port);
  cleanups.push(() => started.close());
  return started;
}

/** A new browser profile signed in as `name` on the demo at `base`; `prepare` runs before the page first loads. */
async function signIn(base: string, name: string, prepare?: (page: Page) => Promise<unknown>): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  contexts.push(context);
  const page = await context.newPage();
  pages.push({ name, page });
  await prepare?.(page);
  await page.goto(`${base}/demo`);
  await page.fill('#name', name);
  await page.click('#signin-form button[type=submit]');
  await connected(page);
  return { context, page };
}

const state = (page: Page) => page.getAttribute('[data-testid="connection-state"]', 'data-status');

async function connected(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="connection-state"][data-status="open"]', { timeout: LONG });
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

/** The messages the page shows, in order, and their seqs. */
async function shown(page: Page): Promise<{ contents: string[]; seqs: number[]; pending: number }> {
  const items = page.locator('[data-testid="message"]');
  const [contents, seqs, pending] = await Promise.all([
    page.locator('[data-testid="message"] .content').allTextContents(),
    items.evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute('data-seq')))),
    page.locator('[data-testid="pending"]').count(),
  ]);
  return { contents, seqs, pending };
}

/** Waits until the page shows exactly `expected` (once each, in this order, seqs rising, nothing pending). */
async function expectMessages(page: Page, expected: string[]): Promise<void> {
  let last: Awaited<ReturnType<typeof shown>> | undefined;
  try {
    await waitFor(async () => {
      last = await shown(page);
      return JSON.stringify(last.contents) === JSON.stringify(expected) && last.pending === 0;
    }, 'the page to show the messages', LONG);
  } catch {
    throw new Error(`expected ${JSON.stringify(expected)}; the page shows ${JSON.stringify(last)}`);
  }
  const seqs = last!.seqs;
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
}

describe(SUITE, () => {
  it('two users chat in two pages, with typing and presence', async () => {
    const app = await service();
    const { page: alice } = await signIn(app.http, 'alice');
    const { page: bob } = await signIn(app.http, 'bob');

    await alice.click('#new-room-box summary');
    await alice.fill('#room-name', 'Study group');
    await alice.fill('#room-members', 'bob');
    await alice.click('#new-room button[type=submit]');
    await alice.waitForSelector('[data-testid="room-title"]:has-text("Study group")');
    // Bob's page finds the room it was added to.
    await bob.waitForSelector('[data-testid="room-title"]:has-text("Study group")', { timeout: LONG });

    await send(alice, 'Hi Bob! Did you read chapter 4?');
    await expectMessages(bob, ['Hi Bob! Did you read chapter 4?']);
    await bob.type('#composer-input', 'Yes', { delay: 20 });
    await alice.waitForSelector('[data-testid="typing"]:has-text("bob is typing")');
    await bob.fill('#composer-input', '');
    await send(bob, 'Yes, the part on recovery.');
    await send(alice, 'Meet at 5?');
    // Shift+Enter starts a new line in the composer; Enter sends.
    await alice.type('#composer-input', 'Agenda:');
    await alice.press('#composer-input', 'Shift+Enter');
    await alice.type('#composer-input', '1. recovery');
    await alice.press('#composer-input', 'Enter');
    expect(await alice.inputValue('#composer-input')).toBe('');
    const all = ['Hi Bob! Did you read chapter 4?', 'Yes, the part on recovery.', 'Meet at 5?', 'Agenda:\n1. recovery'];
    await expectMessages(alice, all);
    await expectMessages(bob, all);
    await alice.waitForSelector('[data-testid="presence"] .person.online:has-text("bob")');
    await bob.waitForSelector('[data-testid="presence"] .person.online:has-text("alice")');
  });

  it('fits a phone screen with many rooms and long names, makes one room per click, and keeps the open room over a reload', async () => {
    const app = await service();
    const { page } = await signIn(app.http, 'alice');
    await page.setViewportSize({ width: 375, height: 700 });
    const create = async (name: string) => {
      await page.click('#new-room-box summary');
      await page.fill('#room-name', name);
      await page.dblclick('#new-room button[type=submit]');
      await page.waitForSelector(`[data-testid="room-title"]:has-text("${name}")`);
    };
    for (const name of ['Quarterly planning for the design team', 'Team 2', 'Team 3', 'Team 4']) await create(name);
    await waitFor(async () => (await page.locator('.rooms li').count()) === 4, 'four rooms, one per double click', LONG);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    const sendBox = await page.locator('[data-testid="send"]').boundingBox();
    expect(sendBox!.x + sendBox!.width).toBeLessThanOrEqual(375);

    await page.click('.rooms li:nth-child(2) button');
    const title = await page.textContent('[data-testid="room-title"]');
    await page.reload();
    await connected(page);
    await page.waitForSelector(`[data-testid="room-title"]:has-text("${title}")`);
    expect(await page.locator('.rooms li').count()).toBe(4);
  });

  it('pages the history in: the newest 50 first, older ones on demand', async () => {
    const app = await service();
    const room = await createRoom(app.http, 'alice', ['bob'], 'team', 'History test');
    const texts = Array.from({ length: 60 }, (_, i) => `history ${i + 1}`);
    for (const content of texts) {
      const response = await fetch(`${app.http}/api/v1/chats/rooms/${room}/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token('bob')}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ content }),
      });
      expect(response.status).toBe(201);
    }
    const { page: alice } = await signIn(app.http, 'alice');
    await expectMessages(alice, texts.slice(10));
    await alice.click('#older');
    await expectMessages(alice, texts);
    await alice.waitForSelector('#older', { state: 'hidden' });
  });

  it('a page that goes offline keeps its three messages and delivers them once, in order, when back', async () => {
    const app = await service();
    await createRoom(app.http, 'alice', ['bob'], 'team', 'Offline test');
    const { context, page: alice } = await signIn(app.http, 'alice');
    const { page: bob } = await signIn(app.http, 'bob');
    await bob.waitForSelector('[data-testid="room-title"]:has-text("Offline test")');

    await context.setOffline(true);
    await waitFor(async () => (await state(alice)) !== 'open', 'alice’s page notices', LONG);
    for (const text of ['one', 'two', 'three']) await send(alice, text);
    await waitFor(async () => (await shown(alice)).pending === 3, 'three queued on alice’s page');
    await send(bob, 'are you there?');
    await expectMessages(bob, ['are you there?']);

    await context.setOffline(false);
    await connected(alice);
    const expected = ['are you there?', 'one', 'two', 'three'];
    await expectMessages(alice, expected);
    await expectMessages(bob, expected);
  });

  it('pages recover from a server restart without losing or repeating a message', async () => {
    // The history must outlive the process for "nothing lost": one instance on Redis.
    // (An embedded server forgets rooms and history on restart; the pages then say so.)
    const env = await redisEnv();
    const port = await freePort();
    const first = await service(env, port);
    await createRoom(first.http, 'alice', ['bob'], 'team', 'Restart test');
    const { page: alice } = await signIn(first.http, 'alice');
    const { page: bob } = await signIn(first.http, 'bob');
    await bob.waitForSelector('[data-testid="room-title"]:has-text("Restart test")');
    await send(alice, 'before the restart');
    await expectMessages(bob, ['before the restart']);
    await alice.waitForSelector('[data-testid="presence"] .person.online:has-text("bob")');

    await first.close();
    await waitFor(async () => (await state(alice)) !== 'open' && (await state(bob)) !== 'open', 'both pages notice', LONG);
    // Cut off, a page cannot know who is online: it shows nobody so, not even its own user.
    expect(await alice.locator('[data-testid="presence"] .person.online').count()).toBe(0);
    await send(alice, 'while it was down 1');
    await send(alice, 'while it was down 2');
    await service(env, port);
    await connected(alice);
    await connected(bob);
    await send(bob, 'after the restart');
    const expected = ['before the restart', 'while it was down 1', 'while it was down 2', 'after the restart'];
    await expectMessages(alice, expected);
    await expectMessages(bob, expected);
  });

  it('after an embedded server restarts, pages reconnect and say the room is gone instead of losing a message silently', async () => {
    const port = await freePort();
    const first = await service({}, port);
    await createRoom(first.http, 'alice', ['bob'], 'team', 'Embedded test');
    const { page: alice } = await signIn(first.http, 'alice');
    const { page: bob } = await signIn(first.http, 'bob');
    await bob.waitForSelector('[data-testid="room-title"]:has-text("Embedded test")');
    await send(alice, 'before the restart');
    await expectMessages(bob, ['before the restart']);

    await first.close();
    await waitFor(async () => (await state(alice)) !== 'open', 'alice’s page notices', LONG);
    await send(alice, 'while it was down');
    await service({}, port);
    await connected(alice);
    await connected(bob);
    // The new process has no rooms: the pages say so, and the queued message is reported, not kept forever.
    for (const page of [alice, bob]) {
      await page.waitForSelector('.toast:has-text("not a member")', { timeout: LONG });
      await page.waitForSelector('#no-room', { state: 'visible' });
    }
    await alice.waitForSelector('.toast:has-text("Not sent")');
    expect((await shown(alice)).pending).toBe(0);
  });

  it('a page whose instance is killed resumes on the other instance', async () => {
    ensureBuilt();
    const env = await redisEnv();
    const [one, two]: Process[] = await Promise.all([spawnService(env), spawnService(env)]);
    cleanups.push(() => one.kill(), () => two.kill());
    // Alice reaches the instances through a proxy that prefers the first; Bob uses the second directly.
    const proxy = await startProxy([one.port, two.port]);
    cleanups.push(() => proxy.close());
    await createRoom(two.url, 'alice', ['bob'], 'team', 'Failover test');
    const { page: alice } = await signIn(proxy.url, 'alice');
    const { page: bob } = await signIn(two.url, 'bob');
    await alice.waitForSelector('[data-testid="room-title"]:has-text("Failover test")');
    await send(alice, 'via the first instance');
    await expectMessages(bob, ['via the first instance']);

    await one.kill();
    await send(bob, 'sent while alice moves');
    await send(alice, 'via the second instance');
    const expected = ['via the first instance', 'sent while alice moves', 'via the second instance'];
    await expectMessages(alice, expected);
    await expectMessages(bob, expected);
    expect(await state(alice)).toBe('open');
  });

  it('after the server’s history of a room is reset, pages show only the new history, and say so', async () => {
    const env = await redisEnv();
    const app = await service(env);
    const roomId = await createRoom(app.http, 'alice', ['bob'], 'team', 'Reset test');
    const { page: alice } = await signIn(app.http, 'alice');
    const { page: bob } = await signIn(app.http, 'bob');
    await alice.waitForSelector('[data-testid="room-title"]:has-text("Reset test")');
    for (const text of ['old 1', 'old 2', 'old 3']) await send(alice, text);
    await expectMessages(bob, ['old 1', 'old 2', 'old 3']);

    await resetHistory(env, roomId);
    await send(alice, 'new 1');
    await send(alice, 'new 2');
    for (const page of [alice, bob]) {
      await expectMessages(page, ['new 1', 'new 2']);
      await page.waitForSelector('#notice:has-text("history was reset")');
    }
  });

  it('a history page asked for before a reset and answered after it is dropped: the page keeps only the new history', async () => {
    const env = await redisEnv();
    const app = await service(env);
    const roomId = await createRoom(app.http, 'alice', ['bob'], 'team', 'Stale history test');
    const { page: alice } = await signIn(app.http, 'alice');
    await alice.waitForSelector('[data-testid="room-title"]:has-text("Stale history test")');
    for (const text of ['old 1', 'old 2', 'old 3']) await send(alice, text);
    await expectMessages(alice, ['old 1', 'old 2', 'old 3']);

    // Bob's first history request of the room (his join's newest page) gets the server's real answer,
    // which the browser is handed only after the reset; later requests go through untouched.
    const isHistory = (url: URL) => url.pathname.endsWith(`/rooms/${encodeURIComponent(roomId)}/messages`);
    let asked = 0;
    let finished = 0;
    let heldAnswer: string[] | undefined;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let fulfilled = false;
    const { page: bob } = await signIn(app.http, 'bob', async (page) => {
      page.on('requestfinished', (request) => isHistory(new URL(request.url())) && (finished += 1));
      await page.route(isHistory, async (route) => {
        if (route.request().method() !== 'GET' || ++asked > 1) return route.continue();
        const response = await route.fetch();
        heldAnswer = ((await response.json()) as { messages: Array<{ content: string }> }).messages.map((message) => message.content);
        await released;
        await route.fulfill({ response });
        fulfilled = true;
      });
    });
    await waitFor(async () => heldAnswer !== undefined, 'bob’s first history answer to be held', LONG);
    expect(heldAnswer).toEqual(['old 1', 'old 2', 'old 3']);
    expect(finished).toBe(0);

    await resetHistory(env, roomId);
    await send(alice, 'new 1');
    await send(alice, 'new 2');
    await expectMessages(bob, ['new 1', 'new 2']);
    await bob.waitForSelector('#notice:has-text("history was reset")');
    // The reset's own load of the newest page has been answered; the first is still held.
    await waitFor(async () => asked >= 2 && finished === asked - 1, 'bob’s history load after the reset', LONG);
    expect(fulfilled).toBe(false);

    release();
    await waitFor(async () => fulfilled && finished === asked, 'the held answer to reach bob’s page', LONG);
    // A message sent after the stale answer arrived shows beside the new history only; had the page taken
    // that answer, its old messages would stand in place of 'new 1' and 'new 2'.
    await send(alice, 'new 3');
    await expectMessages(bob, ['new 1', 'new 2', 'new 3']);
  });

  it('a page that rejoins while Redis is away loads what it missed once Redis is back, with no word of a reset', async () => {
    const env = await redisEnv();
    const link = await LinkProxy.start(String(env.REDIS_URL));
    cleanups.push(() => link.close());
    const app = await service({ ...env, REDIS_URL: link.url });
    await createRoom(app.http, 'alice', ['bob'], 'team', 'Outage test');
    const { page: alice } = await signIn(app.http, 'alice');
    const { context: bobContext, page: bob } = await signIn(app.http, 'bob');
    await bob.waitForSelector('[data-testid="room-title"]:has-text("Outage test")');
    await send(alice, 'one');
    await expectMessages(bob, ['one']);

    await bobContext.setOffline(true);
    await send(alice, 'two');
    await send(alice, 'three');
    await expectMessages(alice, ['one', 'two', 'three']);
    // Bob comes back while Redis is away: his join cannot read what he missed (`reload`), nor can the REST history yet.
    link.cut();
    await bobContext.setOffline(false);
    await bob.waitForSelector('.toast:has-text("Could not load the history")', { timeout: LONG });
    link.heal();
    await expectMessages(bob, ['one', 'two', 'three']);
    expect(await bob.locator('#notice').isVisible()).toBe(false);
  });

  it('a fast typist over the rate limit gets every message delivered once, in seq order, and no warning the page does not need', async () => {
    const app = await service({ RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 5 });
    await createRoom(app.http, 'alice', ['bob'], 'team', 'Fast typing');
    const { page: alice } = await signIn(app.http, 'alice');
    const { page: bob } = await signIn(app.http, 'bob');
    await alice.waitForSelector('[data-testid="room-title"]:has-text("Fast typing")');
    const texts = Array.from({ length: 20 }, (_, i) => `quick ${i + 1}`);
    for (const text of texts) await send(alice, text);
    // Frames dropped over the limit go again later, so the room may store them out of the order typed (README).
    for (const page of [bob, alice]) {
      await waitFor(async () => {
        const { contents, pending } = await shown(page);
        return pending === 0 && JSON.stringify([...contents].sort()) === JSON.stringify([...texts].sort());
      }, 'every message shown once', LONG);
      const { seqs } = await shown(page);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
    expect(await alice.locator('.toast').allTextContents()).toEqual([]);
  });

  it('a tab closed with messages queued hands them to another tab of the same user, which delivers them once', async () => {
    const app = await service();
    await createRoom(app.http, 'alice', ['bob'], 'team', 'Two tabs');
    const proxy: TestProxy = await startProxy([app.port]);
    cleanups.push(() => proxy.close());
    const { context, page: first } = await signIn(proxy.url, 'alice');
    const second = await context.newPage();
    pages.push({ name: 'alice-second-tab', page: second });
    await second.goto(`${proxy.url}/demo`);
    await connected(second);
    const { page: bob } = await signIn(app.http, 'bob');
    for (const page of [first, second, bob]) await page.waitForSelector('[data-testid="room-title"]:has-text("Two tabs")');

    proxy.block();
    await waitFor(async () => (await state(first)) !== 'open' && (await state(second)) !== 'open', 'both tabs lose their connection', LONG);
    await send(first, 'from the first tab');
    await send(second, 'from the second tab');
    await waitFor(async () => (await shown(first)).pending === 1 && (await shown(second)).pending === 1, 'one queued in each tab');
    await first.close();
    // The open tab takes over what the closed one kept.
    await waitFor(async () => (await shown(second)).pending === 2, 'the second tab holding both', LONG);
    proxy.unblock();
    await connected(second);
    await expectMessages(second, ['from the first tab', 'from the second tab']);
    await expectMessages(bob, ['from the first tab', 'from the second tab']);
  });

  it('a reload with messages still queued delivers them', async () => {
    const app = await service();
    await createRoom(app.http, 'alice', ['bob'], 'team', 'Reload test');
    const proxy: TestProxy = await startProxy([app.port]);
    cleanups.push(() => proxy.close());
    const { page: alice } = await signIn(proxy.url, 'alice');
    const { page: bob } = await signIn(app.http, 'bob');
    await alice.waitForSelector('[data-testid="room-title"]:has-text("Reload test")');
    await bob.waitForSelector('[data-testid="room-title"]:has-text("Reload test")');

    proxy.block();
    await waitFor(async () => (await state(alice)) !== 'open', 'alice’s page loses its connection', LONG);
    await send(alice, 'queued 1');
    await send(alice, 'queued 2');
    await waitFor(async () => (await shown(alice)).pending === 2, 'two queued');

    await alice.reload();
    // Still cut off: the reloaded page shows what it kept.
    await waitFor(async () => (await shown(alice)).pending === 2, 'the reloaded page still holds both', LONG);
    proxy.unblock();
    await connected(alice);
    await expectMessages(alice, ['queued 1', 'queued 2']);
    await expectMessages(bob, ['queued 1', 'queued 2']);
  });
});
