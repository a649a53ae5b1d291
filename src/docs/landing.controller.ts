import { Controller, Get, Header, Inject, NotFoundException, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { SETTINGS, WS_PATH, type Settings } from '../config/settings.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { readAsyncApi } from './asyncapi.js';
import { landingPage } from './landing.page.js';

/**
 * The landing page at `/` (`LANDING_PAGE_ENABLED`), the AsyncAPI document
 * (with the other API documents, `API_DOCS_ENABLED`), and a hint for a plain
 * `GET` on the WebSocket path.
 */
@ApiExcludeController()
@Controller()
export class LandingController {
  private page: string | undefined;

  constructor(
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly metrics: MetricsService,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  landing(): string {
    if (!this.settings.docs.landingPage) throw new NotFoundException();
    this.page ??= landingPage({
      apiDocs: this.settings.docs.apiDocs,
      metrics: this.metrics.servedOnHttpPort ? 'here' : (this.metrics.separateAddress?.port ?? false),
      wsPath: WS_PATH,
    });
    return this.page;
  }

  @Get('api/asyncapi.yaml')
  @Header('Content-Type', 'application/yaml; charset=utf-8')
  asyncApi(): Promise<string> {
    if (!this.settings.docs.apiDocs) throw new NotFoundException();
    return readAsyncApi();
  }

  /** WebSocket upgrades never reach Express; a plain GET here is a client that forgot to upgrade. */
  @Get(WS_PATH)
  upgradeRequired(@Res() response: Response): void {
    this.metrics.upgrades.inc({ result: 'upgrade_required' });
    response
      .status(426)
      .setHeader('Upgrade', 'websocket')
      .json({
        error: 'upgrade_required',
        message: `This is the WebSocket endpoint: connect with a WebSocket client to ws://<host>${WS_PATH}?token=<jwt>`,
      });
  }
}
