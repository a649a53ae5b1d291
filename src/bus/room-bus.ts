import type { RoomEvent, RoomEventListener, UserEvent, UserEventListener } from '../core/room-event.js';

export const ROOM_BUS = Symbol('ROOM_BUS');

/**
 * Moves room events between instances.
 *
 * Contract: an instance receives the events of the rooms it subscribed to,
 * its own publishes included, each once, in the order they were published
 * (per room), always asynchronously (never inside `publish`). Delivery is
 * at-most-once: events published while a subscription is down are not
 * replayed; the message store is what makes messages recoverable.
 */
export interface RoomBus {
  /**
   * Adds a listener for the events of the rooms this instance subscribed
   * (those with a local member). The socket edge's `RoomEventsListener` is
   * one; a module that reacts to room events adds its own.
   */
  onEvent(listener: RoomEventListener): void;
  /**
   * Starts receiving a room's events. Resolves true once the subscription
   * is active; false when it could not be made active now (the bus is
   * disconnected, or the subscribe failed): the room stays wanted, is
   * subscribed again when the bus reconnects, and the resync listeners run.
   * Never rejects.
   */
  subscribe(roomId: string): Promise<boolean>;
  /**
   * False while the bus is disconnected. A `subscribe` that answered false
   * while the bus is connected was refused: the room has no live stream.
   */
  readonly connected: boolean;
  unsubscribe(roomId: string): Promise<void>;
  /** Whether the room is subscribed (wanted, connected or not): from `subscribe` until `unsubscribe`. */
  wants(roomId: string): boolean;
  /** Never rejects: an event that cannot travel reaches this instance's own listeners only. */
  publish(roomId: string, event: RoomEvent): Promise<void>;
  /**
   * An event a store's script published on the room's channel itself (in
   * the step that decided it): while this instance's subscription is down
   * it would not hear it, so its own listeners get it from here.
   */
  published(roomId: string, event: RoomEvent): void;
  /**
   * Adds what to call when events may have been missed (the subscription was
   * lost and is back). `lostAt`: when it was lost, where the bus knows (a
   * connection that dropped); undefined where it only renewed subscriptions
   * (a cluster's subscribers rebuilt for a new shard).
   */
  onResync(listener: (lostAt: number | undefined) => void): void;
  /**
   * A user's events, with the same guarantees as a room's: an instance
   * subscribes the users it holds connections of. Never rejects; while the
   * bus is away the user is subscribed again when it is back.
   */
  onUserEvent(listener: UserEventListener): void;
  subscribeUser(userId: string): Promise<void>;
  unsubscribeUser(userId: string): Promise<void>;
  publishToUser(userId: string, event: UserEvent): Promise<void>;
}
