import { Global, Module } from '@nestjs/common';
import { RedisService } from './redis.service.js';

/** The shared Redis connections; idle (no connections) when neither `REDIS_URL` nor `REDIS_CLUSTER_NODES` is set. */
@Global()
@Module({
  providers: [RedisService],
  exports: [RedisService],
})
export class RedisModule {}
