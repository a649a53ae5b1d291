import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InstanceState } from '../instance/instance-state.js';
import { RedisService } from '../redis/redis.service.js';

/**
 * Liveness (the process answers) and readiness (it should get traffic:
 * not draining, and Redis reachable when configured).
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly instance: InstanceState,
    private readonly redis: RedisService,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process answers' })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } })
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready or not and why; no counts (anyone may ask, and counts belong to metrics). */
  @Get('ready')
  @ApiOperation({ summary: 'The instance should get traffic: not draining, Redis reachable when configured' })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  @ApiServiceUnavailableResponse({
    description: '`message` says why: draining, or a Redis connection is down',
    schema: {
      type: 'object',
      properties: { statusCode: { type: 'integer', enum: [503] }, error: { type: 'string' }, message: { type: 'string' } },
    },
  })
  ready(): { status: 'ok' } {
    const reason = this.instance.isDraining ? 'draining' : this.redis.notReadyReason;
    if (reason) throw new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', message: reason });
    return { status: 'ok' };
  }
}
