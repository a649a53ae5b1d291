// The /demo routes: on only when enabled, tokens only in development.
import WebSocket from 'ws';
import { startService, type Service } from '../client/support.js';
import { TEST_SECRET } from '../support/tokens.js';
import { buildDemo } from './instances.js';

const services: Service[] = [];
async function service(overrides = {}): Promise<Service> {
  const started = await startService(overrides);
  services.push(started);
  return started;
}

const mint = (http: string, body: unknown) =>
  fetch(`${http}/demo/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(() => buildDemo());
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

describe('/demo', () => {
  it('serves the page and mints a working token in development', async () => {
    const app = await service({ NODE_ENV: 'development', JWT_SECRET: TEST_SECRET });
    const page = await fetch(`${app.http}/demo`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${app.http}/demo/app.js`)).status).toBe(200);
    expect(await (await fetch(`${app.http}/demo/config.json`)).json()).toEqual({
      ws_path: '/api/v1/chats/ws',
      api_path: '/api/v1/chats',
      mint_tokens: true,
    });

    const answer = await mint(app.http, { user_id: 'carol' });
    expect(answer.status).toBe(201);
    const { token } = (await answer.json()) as { token: string };
    const connected = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const ws = new WebSocket(app.ws, ['access_token', token]);
      ws.on('message', (data) => (ws.close(), resolve(JSON.parse(data.toString()) as Record<string, unknown>)));
      ws.on('error', reject);
    });
    expect(connected).toMatchObject({ type: 'connected', user_id: 'carol' });
  });

  it('refuses a bad user name with 400', async () => {
    const app = await service({ NODE_ENV: 'development', JWT_SECRET: TEST_SECRET });
    for (const user_id of ['', 'a b', 'x'.repeat(65), 42, null]) {
      const answer = await mint(app.http, { user_id });
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ statusCode: 400, message: expect.stringContaining('user_id') });
    }
  });

  it('never mints a token outside development, even with the page on', async () => {
    const app = await service({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, DEMO_ENABLED: 'true' });
    expect((await fetch(`${app.http}/demo`)).status).toBe(200);
    expect(await (await fetch(`${app.http}/demo/config.json`)).json()).toMatchObject({ mint_tokens: false });
    expect((await mint(app.http, { user_id: 'mallory' })).status).toBe(404);
  });

  it('answers 404 everywhere when the demo is off', async () => {
    const app = await service({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET });
    for (const path of ['/demo', '/demo/app.js', '/demo/config.json']) expect((await fetch(`${app.http}${path}`)).status).toBe(404);
    expect((await mint(app.http, { user_id: 'mallory' })).status).toBe(404);
  });
});
