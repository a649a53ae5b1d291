import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module.js';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { FilesModule } from '../files/files.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryMessageStore } from './memory-message.store.js';
import { MESSAGE_STORE, type MessageStore } from './message.store.js';
import { MessagesService } from './messages.service.js';
import { MemoryReadStore } from './memory-read.store.js';
import { READ_STORE, type ReadStore } from './read.store.js';
import { ReadStateService } from './read-state.service.js';
import { RedisReadStore } from './redis-read.store.js';
import { RedisMessageStore } from './redis-message.store.js';

@Module({
  imports: [BusModule, PresenceModule, FilesModule],
  providers: [
    MessagesService,
    ReadStateService,
    {
      provide: READ_STORE,
      inject: [SETTINGS, RedisService],
      useFactory: (settings: Settings, redis: RedisService): ReadStore =>
        settings.redis.enabled ? new RedisReadStore(redis) : new MemoryReadStore(),
    },
    {
      provide: MESSAGE_STORE,
      inject: [SETTINGS, RedisService, ROOM_BUS, READ_STORE],
      useFactory: (settings: Settings, redis: RedisService, bus: RoomBus, reads: ReadStore): MessageStore =>
        settings.redis.enabled
          ? new RedisMessageStore(redis, settings.messages.historyMaxPerRoom)
          : new MemoryMessageStore(bus, settings, reads instanceof MemoryReadStore ? reads : undefined),
    },
  ],
  exports: [MessagesService, ReadStateService],
})
export class MessagesModule {}
