import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { ChatWsAdapter } from './chat/chat.ws-adapter.js';
import type { Environment } from './config/environment.js';
import { SETTINGS, type Settings } from './config/settings.js';
import { setupApiDocs } from './docs/openapi.js';
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
  const app = await NestFactory.create(module, { logger: logger ?? undefined, bufferLogs: logger === undefined, abortOnError: false });
  if (logger === undefined) app.useLogger(app.get(AppLogger));
  const settings = app.get<Settings>(SETTINGS);
  app.enableCors({ origin: settings.http.corsOrigins === '*' ? true : settings.http.corsOrigins });
  app.useWebSocketAdapter(new ChatWsAdapter(app));
  if (settings.docs.apiDocs) setupApiDocs(app);
  return app;
}
