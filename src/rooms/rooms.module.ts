import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { MemoryRoomStore } from './memory-room.store.js';
import { ROOM_STORE } from './room.store.js';
import { RoomsService } from './rooms.service.js';

@Module({
  imports: [BusModule, PresenceModule, MessagesModule],
  providers: [RoomsService, { provide: ROOM_STORE, useClass: MemoryRoomStore }],
  exports: [RoomsService],
})
export class RoomsModule {}
