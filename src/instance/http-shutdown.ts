import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { SETTINGS, type Settings } from '../config/settings.js';

/**
 * Closes the HTTP server once the sockets are gone and before Redis is: new
 * requests are refused, requests under way get up to `SHUTDOWN_GRACE_MS` to
 * finish, then every connection still open is cut. Node's own `close()`
 * waits for a connection whose request has begun (a half-sent header or body)
 * until the request timeouts, up to 30 s: longer than an orchestrator's grace.
 */
@Injectable()
export class HttpShutdown implements BeforeApplicationShutdown {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server?.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.settings.shutdownGraceMs).unref());
    await Promise.race([closed, grace]);
    server.closeAllConnections();
  }
}
