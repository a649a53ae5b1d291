import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { MemoryMessageStore } from './memory-message.store.js';
import { MESSAGE_STORE } from './message.store.js';
import { MessagesService } from './messages.service.js';

@Module({
  imports: [BusModule, PresenceModule],
  providers: [MessagesService, { provide: MESSAGE_STORE, useClass: MemoryMessageStore }],
  exports: [MessagesService],
})
export class MessagesModule {}
