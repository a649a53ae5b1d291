import type { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/app.factory.js';
import type { Environment } from '../../src/config/environment.js';
import { TEST_SECRET } from './tokens.js';

export interface RunningApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  http: string;
  /** `ws://127.0.0.1:<port>/api/v1/chats/ws` */
  ws: string;
  close(): Promise<void>;
}

/** Starts the real application on a free port, configured by `overrides`. */
export async function startApp(overrides: Environment = {}): Promise<RunningApp> {
  const app = await createApp({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, ...overrides }, false);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const http = `http://127.0.0.1:${address.port}`;
  return {
    app,
    http,
    ws: `ws://127.0.0.1:${address.port}/api/v1/chats/ws`,
    close: () => app.close(),
  };
}
