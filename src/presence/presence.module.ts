import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import { PRESENCE_STORE } from './presence.store.js';
import { PresenceService } from './presence.service.js';

@Module({
  imports: [BusModule],
  providers: [PresenceService, { provide: PRESENCE_STORE, useClass: MemoryPresenceStore }],
  exports: [PresenceService],
})
export class PresenceModule {}
