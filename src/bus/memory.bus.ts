import { Injectable } from '@nestjs/common';
import { BusListeners } from './bus-listeners.js';
import type { RoomBus } from './room-bus.js';
import type { RoomEvent, RoomEventListener, UserEvent, UserEventListener } from '../core/room-event.js';

/** Settled once: a reaction to it runs as the next microtask. */
const DELIVERED = Promise.resolve();

/** The embedded bus: one process, so "every instance" is this one. */
@Injectable()
export class MemoryBus implements RoomBus {
  private readonly listeners = new BusListeners();
  private readonly subscribed = new Set<string>();
  private readonly users = new Set<string>();

  onEvent(listener: RoomEventListener): void {
    this.listeners.onEvent(listener);
  }

  /** One process: always connected. */
  readonly connected = true;

  /** Nothing is ever missed in one process. */
  onResync(): void {}

  async subscribe(roomId: string): Promise<boolean> {
    this.subscribed.add(roomId);
    return true;
  }

  async unsubscribe(roomId: string): Promise<void> {
    this.subscribed.delete(roomId);
  }

  wants(roomId: string): boolean {
    return this.subscribed.has(roomId);
  }

  /**
   * Queued as a microtask: asynchronous like Redis, and in publish order. A
   * resolved promise's reaction rather than `queueMicrotask`, which makes an
   * async resource per call (a message's path publishes once per message);
   * and that settled promise is the answer, not a new one per call.
   */
  publish(roomId: string, event: RoomEvent): Promise<void> {
    void DELIVERED.then(() => {
      if (this.subscribed.has(roomId)) this.listeners.emit(roomId, event);
    });
    return DELIVERED;
  }

  onUserEvent(listener: UserEventListener): void {
    this.listeners.onUserEvent(listener);
  }

  async subscribeUser(userId: string): Promise<void> {
    this.users.add(userId);
  }

  async unsubscribeUser(userId: string): Promise<void> {
    this.users.delete(userId);
  }

  /** No store publishes past this bus: nothing to deliver. */
  published(): void {}

  async publishToUser(userId: string, event: UserEvent): Promise<void> {
    void DELIVERED.then(() => {
      if (this.users.has(userId)) this.listeners.emitToUser(userId, event);
    });
  }
}
