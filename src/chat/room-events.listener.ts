import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { JoinsService } from './joins.service.js';
import { RoomFanout } from './room-fanout.js';

/**
 * Routes the bus's room events to this instance's sockets: a removal makes
 * the member's connections leave, every other event goes to the fan-out.
 * After the bus was away, rooms catch up and memberships are checked again.
 */
@Injectable()
export class RoomEventsListener implements OnModuleInit {
  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    private readonly fanout: RoomFanout,
    private readonly joins: JoinsService,
  ) {}

  onModuleInit(): void {
    this.bus.onEvent((roomId, event) => {
      if (event.type === 'member_removed') this.joins.removeLocally(roomId, event.data.user_id);
      else this.fanout.deliver(roomId, event);
    });
    // Members are checked once the rooms caught up: a history found reset is told before a removal.
    this.bus.onResync((lostAt) => void this.fanout.resync(lostAt).then(() => this.joins.confirmAllMembers()));
  }
}
