import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { MessagesModule } from '../messages/messages.module.js';
import { RedisService } from '../redis/redis.service.js';
import { UsersModule } from '../users/users.module.js';
import { MemoryRoomStore } from './memory-room.store.js';
import { RedisRoomStore } from './redis-room.store.js';
import { ROOM_STORE, type RoomStore } from './room.store.js';
import { RoomsService } from './rooms.service.js';

@Module({
  imports: [BusModule, MessagesModule, UsersModule],
  providers: [
    RoomsService,
    {
      provide: ROOM_STORE,
      inject: [SETTINGS, RedisService],
      useFactory: (settings: Settings, redis: RedisService): RoomStore =>
        settings.redis.enabled ? new RedisRoomStore(redis) : new MemoryRoomStore(),
    },
  ],
  exports: [RoomsService],
})
export class RoomsModule {}
