import { Parser, type AsyncAPIDocumentInterface } from '@asyncapi/parser';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { GATEWAY_METADATA, MESSAGE_MAPPING_METADATA, MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { readFile } from 'node:fs/promises';
import { createApp } from '../src/app.factory.js';
import { CLIENT_FRAME_TYPES, CloseCode, ERROR_CODES, SERVER_FRAME_TYPES } from '../src/chat/protocol.js';
import type { Environment } from '../src/config/environment.js';
import { ASYNCAPI_FILE } from '../src/docs/asyncapi.js';
import { logs } from './support/logs.js';

const SECRET = 'api-documents-test-secret-0123456789';

async function start(overrides: Environment = {}, logger: LoggerService | false = false): Promise<{ app: INestApplication; base: string }> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: SECRET, ...overrides }, logger);
  await app.listen(0, '127.0.0.1');
  return { app, base: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

/** The `type` each message of the document's operations with `action` carries (its payload's `type` const). */
function frameTypes(document: AsyncAPIDocumentInterface, action: 'send' | 'receive'): string[] {
  const operations = action === 'send' ? document.operations().filterBySend() : document.operations().filterByReceive();
  const types = operations.flatMap((operation) =>
    operation.messages().all().map((message) => (message.payload()?.json() as { properties: { type: { const: string } } }).properties.type.const),
  );
  return [...new Set(types)].sort();
}

/** Every `@SubscribeMessage` type of every gateway in the running application. */
function gatewayMessageTypes(app: INestApplication): string[] {
  const types: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.providers.values()) {
      const gateway = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (typeof gateway !== 'function' || !Reflect.getMetadata(GATEWAY_METADATA, gateway)) continue;
      for (const name of Object.getOwnPropertyNames(gateway.prototype)) {
        const handler = (gateway.prototype as Record<string, unknown>)[name];
        if (typeof handler === 'function' && Reflect.getMetadata(MESSAGE_MAPPING_METADATA, handler)) {
          types.push(Reflect.getMetadata(MESSAGE_METADATA, handler) as string);
        }
      }
    }
  }
  return types.sort();
}

describe('API documents', () => {
  describe('AsyncAPI (docs/asyncapi.yaml)', () => {
    let document: AsyncAPIDocumentInterface;
    let raw: Record<string, unknown>;

    beforeAll(async () => {
      const source = await readFile(ASYNCAPI_FILE, 'utf8');
      const { document: parsed, diagnostics } = await new Parser().parse(source);
      // Severity 0 is an error; warnings and hints do not make the document invalid.
      expect(diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
      document = parsed!;
      raw = document.json() as unknown as Record<string, unknown>;
    });

    it('is a valid AsyncAPI 3 document', () => {
      expect(document.version()).toMatch(/^3\./);
      expect(document.channels().all().map((channel) => channel.address())).toEqual(['/api/v1/chats/ws']);
    });

    it('receives exactly the client frames the code defines and the gateway handles', async () => {
      const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: SECRET }, false);
      try {
        expect(gatewayMessageTypes(app)).toEqual([...CLIENT_FRAME_TYPES].sort());
      } finally {
        await app.close();
      }
      expect(frameTypes(document, 'receive')).toEqual([...CLIENT_FRAME_TYPES].sort());
    });

    it('sends exactly the server frames of the protocol', () => {
      expect(frameTypes(document, 'send')).toEqual([...SERVER_FRAME_TYPES].sort());
    });

    it('lists the error codes and close codes of the protocol', () => {
      const schemas = (raw.components as { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> }).schemas;
      expect([...schemas.ErrorFrame.properties.code.enum!].sort()).toEqual([...ERROR_CODES].sort());
      const closeCodes = Object.keys((raw.components as { 'x-close-codes': Record<string, string> })['x-close-codes']).map(Number);
      expect(closeCodes.sort()).toEqual(Object.values(CloseCode).sort());
    });
  });

  describe('served by the application', () => {
    let app: INestApplication;
    let base: string;
    beforeAll(async () => ({ app, base } = await start()));
    afterAll(() => app.close());

    it('serves the OpenAPI document of every REST route with its error statuses', async () => {
      const response = await fetch(`${base}/api/docs-json`);
      expect(response.status).toBe(200);
      const openapi = (await response.json()) as {
        openapi: string;
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
        components: { schemas: Record<string, { properties: Record<string, unknown> }> };
      };
      expect(openapi.openapi).toMatch(/^3\./);
      const routes = Object.entries(openapi.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(routes.sort()).toEqual(
        [
          'POST /api/v1/chats/rooms',
          'GET /api/v1/chats/rooms',
          'GET /api/v1/chats/rooms/{room_id}',
          'POST /api/v1/chats/rooms/direct',
          'POST /api/v1/chats/rooms/team',
          'POST /api/v1/chats/rooms/team-email',
          'POST /api/v1/chats/rooms/{room_id}/read',
          'GET /api/v1/chats/unread-count',
          'PUT /api/v1/chats/users/{user_id}',
          'PUT /api/v1/chats/users',
          'GET /api/v1/chats/rooms/{room_id}/members',
          'POST /api/v1/chats/rooms/{room_id}/members',
          'DELETE /api/v1/chats/rooms/{room_id}/members/{user_id}',
          'GET /api/v1/chats/rooms/{room_id}/messages',
          'POST /api/v1/chats/rooms/{room_id}/messages',
          'PATCH /api/v1/chats/rooms/{room_id}/messages/{message_id}',
          'DELETE /api/v1/chats/rooms/{room_id}/messages/{message_id}',
          'POST /api/v1/chats/rooms/{room_id}/messages/{message_id}/react',
          'DELETE /api/v1/chats/rooms/{room_id}/messages/{message_id}/react',
          'GET /api/v1/chats/rooms/{room_id}/search',
          'POST /api/v1/chats/rooms/{room_id}/upload',
          'GET /api/v1/chats/files/rooms/{room_id}/{name}',
          'POST /api/v1/chats/rooms/{room_id}/invitation',
          'GET /api/v1/chats/invitations/{code}',
          'POST /api/v1/chats/rooms/join',
          'GET /health/live',
          'GET /health/ready',
        ].sort(),
      );
      for (const [path, methods] of Object.entries(openapi.paths)) {
        if (!path.startsWith('/api/v1/chats')) continue;
        for (const operation of Object.values(methods)) {
          // A file is fetched by its signed URL, without a token.
          if (path.startsWith('/api/v1/chats/files/')) {
            expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '403', '404']));
            continue;
          }
          expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['400', '401', '403', '404', '429', '503']));
        }
      }
      expect(Object.keys(openapi.components.schemas.ErrorDoc.properties).sort()).toEqual(['error', 'message', 'statusCode']);
      expect(Object.keys(openapi.components.schemas.MessageDoc.properties)).toEqual(expect.arrayContaining(['seq', 'client_msg_id']));
    });

    it('serves the OpenAPI UI with its own assets, no CDN', async () => {
      const html = await (await fetch(`${base}/api/docs`)).text();
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(assets.length).toBeGreaterThan(0);
      expect(assets.filter((asset) => /^(https?:)?\/\//.test(asset))).toEqual([]);
      for (const asset of assets) {
        const response = await fetch(new URL(asset, `${base}/api/docs/`));
        expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
      }
      // The package's other files are not the UI's to serve.
      for (const file of ['package.json', 'README.md', 'swagger-ui-bundle.js.map', 'absolute-path.js', 'docs/package.json', 'docs/', 'docs/index.html', '..%2fpackage.json']) {
        const response = await fetch(`${base}/api/docs/${file}`);
        expect({ file, status: response.status, body: await response.json() }).toEqual({ file, status: 404, body: { statusCode: 404, error: 'Not Found', message: expect.stringMatching(/^Cannot GET \/api\/docs\//) } });
      }
    });

    it('serves the AsyncAPI document as it is in the repository', async () => {
      const response = await fetch(`${base}/api/asyncapi.yaml`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('yaml');
      expect(await response.text()).toBe(await readFile(ASYNCAPI_FILE, 'utf8'));
    });

    it('shows a landing page linking the documents, health, metrics and the demo', async () => {
      const response = await fetch(`${base}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      const html = await response.text();
      for (const href of ['/api/docs', '/api/docs-json', '/api/asyncapi.yaml', '/metrics', '/health/live', '/health/ready', '/demo']) {
        expect(html).toContain(`href="${href}"`);
      }
    });

    it('answers a plain GET on the WebSocket path with 426 and a hint', async () => {
      const response = await fetch(`${base}/api/v1/chats/ws?token=x`);
      expect(response.status).toBe(426);
      expect(response.headers.get('upgrade')).toBe('websocket');
      expect(await response.json()).toMatchObject({ error: 'upgrade_required', message: expect.stringContaining('WebSocket') });
      // Only the path as an upgrade takes it: Express alone would match these too.
      for (const path of ['/API/v1/chats/ws', '/api/v1/chats/WS', '/api/v1/chats/ws/']) {
        expect({ path, status: (await fetch(`${base}${path}`)).status }).toEqual({ path, status: 404 });
      }
    });
  });

  it('turns the documents and the landing page off by setting, and the landing page off in production by default', async () => {
    const { app, base } = await start({ API_DOCS_ENABLED: 'false', LANDING_PAGE_ENABLED: 'false' });
    try {
      for (const path of ['/', '/api/docs', '/api/docs-json', '/api/asyncapi.yaml']) {
        expect({ path, status: (await fetch(`${base}${path}`)).status }).toEqual({ path, status: 404 });
      }
    } finally {
      await app.close();
    }
    const production = await start({ NODE_ENV: 'production' }, logs);
    try {
      logs.clear();
      expect((await fetch(`${production.base}/`)).status).toBe(404);
      // Nothing logged for it: it is what any scanner asks for.
      expect(logs.lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);
      expect((await fetch(`${production.base}/api/docs-json`)).status).toBe(200);
    } finally {
      await production.app.close();
    }
  });
});
