import { Injectable, Logger } from '@nestjs/common';
import type { RoomBus } from './room-bus.js';
import type { RoomEvent, RoomEventListener } from './room-event.js';

/** The embedded bus: one process, so "every instance" is this one. */
@Injectable()
export class MemoryBus implements RoomBus {
  private readonly logger = new Logger(MemoryBus.name);
  private readonly listeners: RoomEventListener[] = [];
  private readonly subscribed = new Set<string>();

  onEvent(listener: RoomEventListener): void {
    this.listeners.push(listener);
  }

  /** Nothing is ever missed in one process. */
  onResync(): void {}

  async subscribe(roomId: string): Promise<void> {
    this.subscribed.add(roomId);
  }

  async unsubscribe(roomId: string): Promise<void> {
    this.subscribed.delete(roomId);
  }

  /** Queued as a microtask: asynchronous like Redis, and in publish order. */
  async publish(roomId: string, event: RoomEvent): Promise<void> {
    queueMicrotask(() => {
      if (this.subscribed.has(roomId)) this.emit(roomId, event);
    });
  }

  /** One failing listener must not keep the event from the others. */
  private emit(roomId: string, event: RoomEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(roomId, event);
      } catch (error) {
        this.logger.error(error);
      }
    }
  }
}
