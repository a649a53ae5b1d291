import { Controller, Get, Inject, NotFoundException, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
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

  // The content type is set only when there is a page: a 404's JSON under a `text/html` header makes Nest warn on every request.
  @Get()
  landing(@Res({ passthrough: true }) response: Response): string {
    if (!this.settings.docs.landingPage) throw new NotFoundException();
    response.setHeader('Content-Type', 'text/html; charset=utf-8');
    this.page ??= landingPage({
      apiDocs: this.settings.docs.apiDocs,
      metrics: this.metrics.servedOnHttpPort ? 'here' : (this.metrics.separateAddress?.port ?? false),
      wsPath: WS_PATH,
    });
    return this.page;
  }

  @Get('api/asyncapi.yaml')
  asyncApi(@Res({ passthrough: true }) response: Response): Promise<string> {
    if (!this.settings.docs.apiDocs) throw new NotFoundException();
    response.setHeader('Content-Type', 'application/yaml; charset=utf-8');
    return readAsyncApi();
  }

  /** WebSocket upgrades never reach Express; a plain GET here is a client that forgot to upgrade. */
  @Get(WS_PATH)
  upgradeRequired(@Req() request: Request, @Res() response: Response): void {
    // Express matches routes ignoring case and a trailing slash; the upgrade takes the path exactly as written, and so does this answer.
    if (request.path !== WS_PATH) throw new NotFoundException();
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
