import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

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

/** Serves the UI at `/api/docs` and the document at `/api/docs-json` (swagger-ui's files come from the package, not a CDN). */
export function setupApiDocs(app: INestApplication): void {
  SwaggerModule.setup(API_DOCS_PATH, app, () => createOpenApiDocument(app), {
    jsonDocumentUrl: `${API_DOCS_PATH}-json`,
    yamlDocumentUrl: `${API_DOCS_PATH}-yaml`,
    customSiteTitle: 'chat-gateway API',
  });
}
