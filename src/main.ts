import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.factory.js';
import { ConnectionRegistry } from './chat/connection.registry.js';
import { DEV_JWT_SECRET } from './config/environment.js';
import { SETTINGS, type Settings } from './config/settings.js';
import { AppLogger } from './logging/app-logger.js';
import { scrubText } from './core/redact.js';
import { startupSummary } from './logging/startup-summary.js';
import { MetricsService } from './metrics/metrics.service.js';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  const settings = app.get<Settings>(SETTINGS);
  const logger = app.get(AppLogger).pino.child({ context: 'Bootstrap' });
  // SIGTERM (and SIGINT): not ready at once, sockets closed with 1012 in
  // batches over DRAIN_DURATION_MS, then the application closes and the
  // process exits 0. A second signal during the drain kills it at once.
  const shutdown = (signal: NodeJS.Signals) => {
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT');
    logger.info({ signal }, 'shutting down');
    app
      .get(ConnectionRegistry)
      .drain(settings.drainDurationMs)
      .then(() => app.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown).once('SIGINT', shutdown);
  if (settings.jwt.secret === DEV_JWT_SECRET) {
    logger.warn("JWT_SECRET is the development default: set the main backend's secret");
  }
  await app.listen(settings.http.port, settings.http.host).catch((error: unknown) => {
    // The port's own failure (taken, not permitted) names the setting; any other is as it came.
    const listening = error instanceof Error && (error as NodeJS.ErrnoException).syscall === 'listen';
    throw listening ? new Error(`PORT ${settings.http.port}: ${error.message}`) : error;
  });
  const bound = app.getHttpServer().address() as AddressInfo;
  const address = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  const metrics = app.get(MetricsService);
  const metricsAddress = !settings.metrics.enabled
    ? undefined
    : metrics.servedOnHttpPort
      ? `${address}/metrics`
      : `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${metrics.separateAddress?.port}/metrics`;
  logger.info(startupSummary(settings, address, metricsAddress), 'chat-gateway started');
}

bootstrap().catch((error: unknown) => {
  // A bad setting is one line, not a stack trace, and never shows a secret (a URL's password, say).
  console.error(scrubText(error instanceof Error ? error.message : String(error)));
  process.exit(1);
});
