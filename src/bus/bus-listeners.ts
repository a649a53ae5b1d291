import { Logger } from '@nestjs/common';
import type { RoomEvent, RoomEventListener, UserEvent, UserEventListener } from '../core/room-event.js';

/** The listeners of a bus. One that throws does not keep an event from the others. */
export class BusListeners {
  private readonly logger = new Logger(BusListeners.name);
  private readonly events: RoomEventListener[] = [];
  private readonly resyncs: Array<(lostAt: number | undefined) => void> = [];
  private readonly userEvents: UserEventListener[] = [];

  onUserEvent(listener: UserEventListener): void {
    this.userEvents.push(listener);
  }

  emitToUser(userId: string, event: UserEvent): void {
    for (const listener of this.userEvents) this.safely(() => listener(userId, event));
  }

  onEvent(listener: RoomEventListener): void {
    this.events.push(listener);
  }

  onResync(listener: (lostAt: number | undefined) => void): void {
    this.resyncs.push(listener);
  }

  emit(roomId: string, event: RoomEvent): void {
    for (const listener of this.events) this.safely(() => listener(roomId, event));
  }

  resync(lostAt: number | undefined): void {
    for (const listener of this.resyncs) this.safely(() => listener(lostAt));
  }

  private safely(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.logger.error(error);
    }
  }
}
