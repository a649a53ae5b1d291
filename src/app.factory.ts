import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { ChatWsAdapter } from './chat/chat.ws-adapter.js';
import type { Environment } from './config/environment.js';
import { SETTINGS, type Settings } from './config/settings.js';

/**
 * Builds a configured, not yet listening application: the entry point and
 * the tests share it, so tests run exactly what production runs.
 */
export async function createApp(
  overrides: Environment = {},
  logger: LoggerService | LogLevel[] | false = ['log', 'warn', 'error'],
): Promise<INestApplication> {
  const app = await NestFactory.create(await AppModule.forRoot(overrides), { logger, abortOnError: false });
  const settings = app.get<Settings>(SETTINGS);
  app.enableCors({ origin: settings.http.corsOrigins === '*' ? true : settings.http.corsOrigins });
  app.useWebSocketAdapter(new ChatWsAdapter(app));
  return app;
}
