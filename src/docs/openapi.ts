import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { errorBody } from '../core/error-body.js';

export const API_DOCS_PATH = 'api/docs';

/** The OpenAPI document of the REST API, generated from the controllers and their DTOs. */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('chat-gateway REST API')
    .setDescription(
      'Rooms, members and message history (PROTOCOL §5). Real-time traffic goes over the WebSocket at ' +
        '`/api/v1/chats/ws`, described by the AsyncAPI document at `/api/asyncapi.yaml`. Errors are ' +
        '`{statusCode, error, message}`.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** What the UI's page loads; its own script, `swagger-ui-init.js`, is made by @nestjs/swagger. */
const UI_ASSETS = new Set(['/swagger-ui-init.js', '/swagger-ui.css', '/swagger-ui-bundle.js', '/swagger-ui-standalone-preset.js', '/favicon-32x32.png', '/favicon-16x16.png']);
/** The page at `/api/docs` (no slash) names them as `./docs/…`, which @nestjs/swagger serves under `/api/docs/docs/` too. */
const NESTED_ASSETS = `/${API_DOCS_PATH.split('/').at(-1)}/`;

/**
 * Serves the UI at `/api/docs` and the document at `/api/docs-json` (swagger-ui's files come from the package, not a CDN).
 * @nestjs/swagger serves swagger-ui-dist's whole folder (its package.json, maps, READMEs, a stub page):
 * only the UI's page and its own files are let through.
 */
export function setupApiDocs(app: INestApplication): void {
  app.use(`/${API_DOCS_PATH}`, (request: Request, response: Response, next: NextFunction) => {
    const { path } = request;
    const asset = path.startsWith(NESTED_ASSETS) ? path.slice(NESTED_ASSETS.length - 1) : path;
    if (path === '/' || path === '/index.html' || UI_ASSETS.has(asset)) return next();
    response.status(404).json(errorBody(404, `Cannot ${request.method} ${request.baseUrl}${path}`));
  });
  SwaggerModule.setup(API_DOCS_PATH, app, () => createOpenApiDocument(app), {
    jsonDocumentUrl: `${API_DOCS_PATH}-json`,
    yamlDocumentUrl: `${API_DOCS_PATH}-yaml`,
    customSiteTitle: 'chat-gateway API',
  });
}
