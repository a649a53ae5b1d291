import { Global, Module } from '@nestjs/common';
import { RedisService } from './redis.service.js';

/** The shared Redis connections; idle (no connections) when `REDIS_URL` is empty. */
@Global()
@Module({
  providers: [RedisService],
  exports: [RedisService],
})
export class RedisModule {}
