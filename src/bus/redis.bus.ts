import { Logger, OnModuleInit } from '@nestjs/common';
import type { MetricsService } from '../metrics/metrics.service.js';
import { RedisService } from '../redis/redis.service.js';
import { BusListeners } from './bus-listeners.js';
import type { RoomBus } from './room-bus.js';
import {
  decodeRoomEvent,
  decodeUserEvent,
  encodeRoomEvent,
  encodeUserEvent,
  type RoomEvent,
  type RoomEventListener,
  type UserEvent,
  type UserEventListener,
} from '../core/room-event.js';

/** SUBSCRIBE attempts on a working connection before a join is refused. */
const SUBSCRIBE_ATTEMPTS = 2;

/**
 * Room events over Redis pub/sub: one channel per room, subscribed on this
 * instance's one subscriber connection while the instance has a local
 * member in the room. Its own publishes come back through the subscription,
 * so every instance delivers a room's events in the same (publish) order.
 *
 * While Redis is away, publishes are delivered to this instance's own
 * listener only, so local rooms keep working; when the subscriber
 * reconnects it resubscribes every room and calls the resync listener.
 */
export class RedisBus implements RoomBus, OnModuleInit {
  private readonly logger = new Logger(RedisBus.name);
  private readonly listeners = new BusListeners();
  private readonly rooms = new Set<string>();
  private readonly users = new Set<string>();
  /** Payloads on room channels that were not well-formed room events of that room, dropped since start. */
  private droppedCount = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly metrics?: MetricsService,
  ) {}

  onModuleInit(): void {
    const subscriber = this.redis.subscriber;
    subscriber.on('message', (channel: string, payload: string) => this.receive(channel, payload));
    subscriber.on('ready', () => void this.resubscribe());
  }

  get dropped(): number {
    return this.droppedCount;
  }

  onEvent(listener: RoomEventListener): void {
    this.listeners.onEvent(listener);
  }

  /** Called after the subscription was lost and restored: events in between were missed. */
  onResync(listener: () => void): void {
    this.listeners.onResync(listener);
  }

  get connected(): boolean {
    return this.redis.subscriber.status === 'ready';
  }

  /**
   * A SUBSCRIBE refused on a working connection is tried once more; if it
   * fails again the answer is false with the bus still connected, which a
   * join turns into `unavailable` rather than a room with no live stream.
   */
  async subscribe(roomId: string): Promise<boolean> {
    this.rooms.add(roomId);
    for (let attempt = 1; ; attempt++) {
      if (this.redis.subscriber.status !== 'ready') return false;
      try {
        await this.redis.subscriber.subscribe(this.redis.keys.channel(roomId));
        return true;
      } catch (error) {
        this.logger.warn(`could not subscribe room ${roomId}: ${error instanceof Error ? error.message : String(error)}`);
        if (attempt >= SUBSCRIBE_ATTEMPTS) return false;
      }
    }
  }

  async unsubscribe(roomId: string): Promise<void> {
    this.rooms.delete(roomId);
    if (this.redis.subscriber.status !== 'ready') return;
    await this.redis.subscriber.unsubscribe(this.redis.keys.channel(roomId)).catch(() => undefined);
  }

  async publish(roomId: string, event: RoomEvent): Promise<void> {
    let published = false;
    if (this.redis.client.status === 'ready') {
      published = await this.redis.client
        .publish(this.redis.keys.channel(roomId), encodeRoomEvent(event))
        .then(() => true)
        .catch(() => false);
    }
    // Without a working subscription this instance would not hear its own
    // event: its own connections get it directly.
    if (!published || this.redis.subscriber.status !== 'ready') {
      queueMicrotask(() => {
        if (this.rooms.has(roomId)) this.listeners.emit(roomId, event);
      });
    }
  }

  onUserEvent(listener: UserEventListener): void {
    this.listeners.onUserEvent(listener);
  }

  async subscribeUser(userId: string): Promise<void> {
    this.users.add(userId);
    if (this.redis.subscriber.status !== 'ready') return;
    await this.redis.subscriber.subscribe(this.redis.keys.userChannel(userId)).catch((error: unknown) => {
      this.logger.warn(`could not subscribe user ${userId}: ${error instanceof Error ? error.message : String(error)}`);
    });
    // The user's last connection went while the SUBSCRIBE was under way: nothing should stay subscribed.
    if (!this.users.has(userId)) await this.redis.subscriber.unsubscribe(this.redis.keys.userChannel(userId)).catch(() => undefined);
  }

  async unsubscribeUser(userId: string): Promise<void> {
    this.users.delete(userId);
    if (this.redis.subscriber.status !== 'ready') return;
    await this.redis.subscriber.unsubscribe(this.redis.keys.userChannel(userId)).catch(() => undefined);
  }

  /** Like a room's publish: without a working subscription, this instance's own connections get it directly. */
  async publishToUser(userId: string, event: UserEvent): Promise<void> {
    let published = false;
    if (this.redis.client.status === 'ready') {
      published = await this.redis.client
        .publish(this.redis.keys.userChannel(userId), encodeUserEvent(event))
        .then(() => true)
        .catch(() => false);
    }
    if (!published || this.redis.subscriber.status !== 'ready') {
      queueMicrotask(() => {
        if (this.users.has(userId)) this.listeners.emitToUser(userId, event);
      });
    }
  }

  private receive(channel: string, payload: string): void {
    const userId = this.redis.keys.userOfChannel(channel);
    if (userId !== undefined) {
      const event = this.users.has(userId) ? decodeUserEvent(payload) : undefined;
      if (event) this.listeners.emitToUser(userId, event);
      return;
    }
    const roomId = this.redis.keys.roomOfChannel(channel);
    if (roomId === undefined || !this.rooms.has(roomId)) return;
    const event = decodeRoomEvent(payload, roomId);
    if (!event) {
      this.droppedCount += 1;
      this.metrics?.busEventsDropped.inc();
      this.logger.debug(`dropped a malformed event on ${channel} (${this.droppedCount} since start)`);
      return;
    }
    this.listeners.emit(roomId, event);
  }

  private async resubscribe(): Promise<void> {
    const channels = [
      ...[...this.rooms].map((roomId) => this.redis.keys.channel(roomId)),
      ...[...this.users].map((userId) => this.redis.keys.userChannel(userId)),
    ];
    if (channels.length > 0) {
      // A failure here is a connection lost again: its next `ready` runs this once more.
      await this.redis.subscriber.subscribe(...channels).catch((error: unknown) => {
        this.logger.warn(`could not resubscribe ${channels.length} rooms: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    this.listeners.resync();
  }
}
