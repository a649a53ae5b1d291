import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { SETTINGS, type Settings } from '../config/settings.js';
import { closeHttpServer } from '../core/close-http-server.js';

/** Closes the application's HTTP server once the sockets are gone and before Redis is, within `SHUTDOWN_GRACE_MS`. */
@Injectable()
export class HttpShutdown implements BeforeApplicationShutdown {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (server?.listening) await closeHttpServer(server, this.settings.shutdownGraceMs);
  }
}
