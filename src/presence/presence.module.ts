import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module.js';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import { PRESENCE_STORE, type PresenceStore } from './presence.store.js';
import { PresenceService } from './presence.service.js';
import { RedisPresenceStore } from './redis-presence.store.js';

@Module({
  imports: [BusModule],
  providers: [
    PresenceService,
    {
      provide: PRESENCE_STORE,
      inject: [SETTINGS, RedisService, ROOM_BUS],
      useFactory: (settings: Settings, redis: RedisService, bus: RoomBus): PresenceStore =>
        settings.redis.enabled ? new RedisPresenceStore(redis, bus, settings.redis.instanceTtlMs) : new MemoryPresenceStore(),
    },
  ],
  exports: [PresenceService],
})
export class PresenceModule {}
