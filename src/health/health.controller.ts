import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { InstanceState } from '../instance/instance-state.js';
import { RedisService } from '../redis/redis.service.js';

/**
 * Liveness (the process answers) and readiness (it should get traffic:
 * not draining, and Redis reachable when configured).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly instance: InstanceState,
    private readonly redis: RedisService,
  ) {}

  @Get('live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready or not and why; no counts (anyone may ask, and counts belong to metrics). */
  @Get('ready')
  ready(): { status: 'ok' } {
    const reason = this.instance.isDraining ? 'draining' : this.redis.notReadyReason;
    if (reason) throw new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', message: reason });
    return { status: 'ok' };
  }
}
