import { Module } from '@nestjs/common';
import { MemoryBus } from './memory.bus.js';
import { ROOM_BUS } from './room-bus.js';

@Module({
  providers: [{ provide: ROOM_BUS, useClass: MemoryBus }],
  exports: [ROOM_BUS],
})
export class BusModule {}
