import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { DEV_JWT_SECRET } from './config/environment.js';
import { SETTINGS, type Settings } from './config/settings.js';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  // SIGTERM drains the sockets (1012) and exits 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const { http, jwt } = app.get<Settings>(SETTINGS);
  if (jwt.secret === DEV_JWT_SECRET) {
    Logger.warn('JWT_SECRET is the development default: set the main backend\'s secret', 'Bootstrap');
  }
  await app.listen(http.port, http.host);
  Logger.log(`Listening on ${await app.getUrl()}`, 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  // A bad setting is one line, not a stack trace.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
