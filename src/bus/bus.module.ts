import { Module } from '@nestjs/common';
import { SETTINGS, type Settings } from '../config/settings.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryBus } from './memory.bus.js';
import { ROOM_BUS, type RoomBus } from './room-bus.js';
import { RedisBus } from './redis.bus.js';

@Module({
  providers: [
    {
      provide: ROOM_BUS,
      inject: [SETTINGS, RedisService, MetricsService],
      useFactory: (settings: Settings, redis: RedisService, metrics: MetricsService): RoomBus =>
        settings.redis.enabled ? new RedisBus(redis, metrics) : new MemoryBus(),
    },
  ],
  exports: [ROOM_BUS],
})
export class BusModule {}
