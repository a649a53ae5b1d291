import { Module } from '@nestjs/common';
import { SETTINGS, type Settings } from '../config/settings.js';
import { RedisService } from '../redis/redis.service.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { INVITATION_STORE, type InvitationStore } from './invitation.store.js';
import { InvitationsService } from './invitations.service.js';
import { MemoryInvitationStore } from './memory-invitation.store.js';
import { RedisInvitationStore } from './redis-invitation.store.js';

@Module({
  imports: [RoomsModule],
  providers: [
    InvitationsService,
    {
      provide: INVITATION_STORE,
      inject: [SETTINGS, RedisService],
      useFactory: (settings: Settings, redis: RedisService): InvitationStore =>
        settings.redis.enabled ? new RedisInvitationStore(redis) : new MemoryInvitationStore(),
    },
  ],
  exports: [InvitationsService],
})
export class InvitationsModule {}
