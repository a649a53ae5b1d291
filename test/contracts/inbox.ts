import { waitFor } from '../../scripts/processes.mjs';
import type { RoomEvent } from '../../src/bus/room-event.js';

export interface Received {
  roomId: string;
  event: RoomEvent;
}

export const sameEvent = (a: RoomEvent, b: RoomEvent): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Records what one listener receives, so a test waits for events instead of sleeping. */
export class Inbox {
  readonly received: Received[] = [];
  private wakers: Array<() => void> = [];

  readonly listener = (roomId: string, event: RoomEvent): void => {
    this.received.push({ roomId, event });
    for (const wake of this.wakers.splice(0)) wake();
  };

  /** Resolves once `count` events have arrived; fails after `timeoutMs`. */
  async until(count: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Received ${this.received.length} of ${count} events within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  /** Waits for the `sentinel` event, then returns everything received, sentinel included. */
  async through(sentinel: RoomEvent, timeoutMs = 5000): Promise<Received[]> {
    await waitFor(() => this.received.some((r) => sameEvent(r.event, sentinel)), timeoutMs, 'the sentinel event', 10);
    return this.received;
  }
}
