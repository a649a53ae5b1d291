import { Controller, Get, Header, NotFoundException, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { MetricsService } from './metrics.service.js';

/** `GET /metrics` on the HTTP port, unless metrics are off or served on `METRICS_PORT`. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async render(@Res() response: Response): Promise<void> {
    if (!this.metrics.servedOnHttpPort) throw new NotFoundException();
    response.type(this.metrics.contentType).send(await this.metrics.render());
  }
}
