import { Logger, type INestApplication, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Application } from 'express';
import type { Server } from 'node:http';
import { AppModule } from './app.module.js';
import { ChatWsAdapter } from './chat/chat.ws-adapter.js';
import { answerBodyErrors, HttpErrorFilter } from './chat/http-error.filter.js';
import type { Environment } from './config/environment.js';
import { SETTINGS, type Settings } from './config/settings.js';
import { setupApiDocs } from './docs/openapi.js';
import { limitSockets, requireHost, type TrustProxy } from './limits/http-sockets.js';
import { AppLogger } from './logging/app-logger.js';

/**
 * Builds a configured, not yet listening application: the entry point and
 * the tests share it, so tests run exactly what production runs.
 *
 * `logger`: by default the application's own `AppLogger` (`LOG_FORMAT`,
 * `LOG_LEVEL`); `false` silences every log line, the application's own included.
 */
export async function createApp(
  overrides: Environment = {},
  logger?: LoggerService | LogLevel[] | false,
): Promise<INestApplication> {
  const module = await AppModule.forRoot(logger === false ? { ...overrides, LOG_LEVEL: 'silent' } : overrides);
  // Nest's lines are held until the application's logger takes them. If the application cannot be built,
  // they are dropped rather than printed raw (unscrubbed, not JSON): the caller reports the error.
  const buffered = logger === undefined;
  const app = await NestFactory.create<NestExpressApplication>(module, { logger: logger ?? undefined, bufferLogs: buffered, autoFlushLogs: false, abortOnError: false }).catch(
    (error: unknown) => {
      // Later lines of the process are written as they come, not held for an application that will never flush them.
      if (buffered) Logger.detachBuffer();
      throw error;
    },
  );
  if (buffered) {
    app.useLogger(app.get(AppLogger));
    app.flushLogs();
  }
  const settings = app.get<Settings>(SETTINGS);
  app.use(requireHost);
  app.enableCors({
    origin: settings.http.corsOrigins === '*' ? true : settings.http.corsOrigins,
    // Paging and rate-limit answers a browser client must be able to read.
    exposedHeaders: ['X-Total-Count', 'X-Next-Cursor', 'Retry-After'],
  });
  app.disable('x-powered-by');
  // Nest's own parsers, registered here so that their errors can be answered right after them.
  app.useBodyParser('json');
  app.useBodyParser('urlencoded', { extended: true });
  app.use(answerBodyErrors);
  // Every HTTP route, and a path no route serves, answers its failures in one shape (gateways do not use global filters).
  app.useGlobalFilters(new HttpErrorFilter());
  app.set('trust proxy', settings.http.trustProxy);
  const express = app.getHttpAdapter().getInstance() as Application;
  limitSockets(app.getHttpServer() as Server, settings.http, express.get('trust proxy fn') as TrustProxy);
  app.useWebSocketAdapter(new ChatWsAdapter(app));
  if (settings.docs.apiDocs) setupApiDocs(app);
  return app;
}
