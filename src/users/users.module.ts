import { Module } from '@nestjs/common';
import { SETTINGS, type Settings } from '../config/settings.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryUserDirectoryStore } from './memory-user-directory.store.js';
import { RedisUserDirectoryStore } from './redis-user-directory.store.js';
import { USER_DIRECTORY_STORE, type UserDirectoryStore } from './user-directory.store.js';
import { UsersService } from './users.service.js';

@Module({
  providers: [
    UsersService,
    {
      provide: USER_DIRECTORY_STORE,
      inject: [SETTINGS, RedisService],
      useFactory: (settings: Settings, redis: RedisService): UserDirectoryStore =>
        settings.redis.enabled ? new RedisUserDirectoryStore(redis) : new MemoryUserDirectoryStore(),
    },
  ],
  exports: [UsersService],
})
export class UsersModule {}
