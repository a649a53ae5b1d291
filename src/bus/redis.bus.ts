import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
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
/** How long a burst of dropped sharded subscriptions (one notice per channel) is gathered before they are renewed. */
const RENEW_AFTER_MS = 200;

/**
 * Room events over Redis pub/sub: one channel per room, subscribed on this
 * instance's one subscriber connection while the instance has a local
 * member in the room. Its own publishes come back through the subscription,
 * so every instance delivers a room's events in the same (publish) order.
 *
 * On a cluster (`RedisService.sharded`) this service's events travel on
 * sharded pub/sub, on the room's channel in the room's slot (`keys.events`),
 * through one subscriber connection per master; the main backend's classic
 * channel (`keys.channel`, PROTOCOL §6) is subscribed as well, on one node,
 * since a classic PUBLISH reaches every node of a cluster.
 *
 * A user's events go on the user's channel (`keys.userChannel`); on a
 * cluster on the sharded one in the user's slot (`keys.userEvents`), so
 * they keep their publish order as a room's do.
 *
 * While Redis is away, publishes are delivered to this instance's own
 * listener only, so local rooms keep working; when the subscriber
 * reconnects (on a cluster: when its shard subscribers were rebuilt after a
 * failover, a slot move or a lost connection) it resubscribes every room
 * and calls the resync listener, which catches every room up from the store.
 * Redis 7.0 also drops a slot's sharded subscriptions on every
 * `CLUSTER SETSLOT <slot> NODE`, even on the node that keeps the slot; the
 * cluster client then finds its slot map unchanged and does not subscribe
 * again, so this bus renews every sharded subscription itself and resyncs.
 */
export class RedisBus implements RoomBus, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisBus.name);
  private readonly listeners = new BusListeners();
  private readonly rooms = new Set<string>();
  private readonly users = new Set<string>();
  /** On a cluster, the last publish in flight per room or user (see `inOrder`). */
  private readonly publishing = new Map<string, Promise<unknown>>();
  /** Payloads on room channels that were not well-formed room events of that room, dropped since start. */
  private droppedCount = 0;
  /** A renewal of the sharded subscriptions, waiting for the rest of a burst of dropped ones. */
  private renewal: NodeJS.Timeout | undefined;
  /** When a subscriber connection dropped since the last resync (for the resync listeners). */
  private lostAt: number | undefined;
  /** Set at shutdown: a renewal still in flight then ends without a warning or a resync against a closing store. */
  private closing = false;

  constructor(
    private readonly redis: RedisService,
    private readonly metrics?: MetricsService,
  ) {}

  onModuleInit(): void {
    const subscriber = this.redis.subscriber;
    subscriber.on('message', (channel: string, payload: string) => this.receiveClassic(channel, payload));
    subscriber.on('close', () => this.lost());
    if (this.redis.sharded) {
      subscriber.on('smessage', (channel: string, payload: string) => {
        const userId = this.redis.keys.userOfEvents(channel);
        if (userId === undefined) this.receive(this.redis.keys.roomOfEvents(channel), channel, payload);
        else this.receiveUser(userId, payload);
      });
      // ioredis rebuilt the shard subscribers and resubscribed them: events in between may be missed.
      subscriber.on('subscribersReady', () => void this.resync());
      // A shard dropped subscriptions by itself (an unsolicited SUNSUBSCRIBE). ioredis announces it only
      // as `moved` on its shard subscribers' emitter, which it does not expose, and resubscribes only if
      // the slot map it then reads has changed: after a repeated SETSLOT NODE it has not.
      const shards = (subscriber as unknown as { subscriberGroupEmitter?: EventEmitter }).subscriberGroupEmitter;
      // A shard's subscriber dropped (replaced as unhealthy, or its node left the topology).
      shards?.on('-subscriber', () => this.lost());
      shards?.on('moved', () => {
        this.lost();
        if (!this.closing) this.renewal ??= setTimeout(() => void this.renewSharded(), RENEW_AFTER_MS);
      });
    } else {
      subscriber.on('ready', () => void this.resubscribe());
    }
  }

  onModuleDestroy(): void {
    this.closing = true;
    clearTimeout(this.renewal);
  }

  get dropped(): number {
    return this.droppedCount;
  }

  onEvent(listener: RoomEventListener): void {
    this.listeners.onEvent(listener);
  }

  /** Called after the subscription was lost and restored: events in between were missed. */
  onResync(listener: (lostAt: number | undefined) => void): void {
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
        await this.subscribeChannels(roomId);
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
    const { subscriber, keys } = this.redis;
    await Promise.all([
      subscriber.unsubscribe(keys.channel(roomId)).catch(() => undefined),
      this.redis.sharded ? subscriber.sunsubscribe(keys.events(roomId)).catch(() => undefined) : undefined,
    ]);
  }

  wants(roomId: string): boolean {
    return this.rooms.has(roomId);
  }

  async publish(roomId: string, event: RoomEvent): Promise<void> {
    let published = false;
    if (this.redis.client.status === 'ready') {
      const payload = encodeRoomEvent(event);
      published = await this.inOrder(roomId, () => this.redis.publish(roomId, payload))
        .then(() => true)
        .catch(() => false);
    }
    if (!published) this.deliverHere(roomId, event);
    else this.published(roomId, event);
  }

  published(roomId: string, event: RoomEvent): void {
    // Without a working subscription this instance would not hear its own event.
    if (this.redis.subscriber.status !== 'ready') this.deliverHere(roomId, event);
  }

  /** To this instance's own listeners only, asynchronously as from Redis. */
  private deliverHere(roomId: string, event: RoomEvent): void {
    queueMicrotask(() => {
      if (this.rooms.has(roomId)) this.listeners.emit(roomId, event);
    });
  }

  onUserEvent(listener: UserEventListener): void {
    this.listeners.onUserEvent(listener);
  }

  async subscribeUser(userId: string): Promise<void> {
    this.users.add(userId);
    if (this.redis.subscriber.status !== 'ready') return;
    await this.userSubscription(userId, true).catch((error: unknown) => {
      this.logger.warn(`could not subscribe user ${userId}: ${error instanceof Error ? error.message : String(error)}`);
    });
    // The user's last connection went while the SUBSCRIBE was under way: nothing should stay subscribed.
    if (!this.users.has(userId)) await this.userSubscription(userId, false).catch(() => undefined);
  }

  /** The user's channel: classic on one Redis, sharded in the user's slot on a cluster. */
  private userSubscription(userId: string, on: boolean): Promise<unknown> {
    const { subscriber, keys } = this.redis;
    if (this.redis.sharded) return on ? subscriber.ssubscribe(keys.userEvents(userId)) : subscriber.sunsubscribe(keys.userEvents(userId));
    return on ? subscriber.subscribe(keys.userChannel(userId)) : subscriber.unsubscribe(keys.userChannel(userId));
  }

  async unsubscribeUser(userId: string): Promise<void> {
    this.users.delete(userId);
    if (this.redis.subscriber.status !== 'ready') return;
    await this.userSubscription(userId, false).catch(() => undefined);
  }

  /** Like a room's publish: without a working subscription, this instance's own connections get it directly. */
  async publishToUser(userId: string, event: UserEvent): Promise<void> {
    let published = false;
    if (this.redis.client.status === 'ready') {
      const { client, keys } = this.redis;
      const payload = encodeUserEvent(event);
      published = await this.inOrder(`user\n${userId}`, () =>
        this.redis.sharded ? client.spublish(keys.userEvents(userId), payload) : client.publish(keys.userChannel(userId), payload),
      )
        .then(() => true)
        .catch(() => false);
    }
    if (!published || this.redis.subscriber.status !== 'ready') {
      queueMicrotask(() => {
        if (this.users.has(userId)) this.listeners.emitToUser(userId, event);
      });
    }
  }

  /**
   * On a cluster, a room's publishes go one after another: the cluster
   * client may redirect or retry one command (a slot moved, a node
   * reconnecting) while a later one goes straight through. One Redis
   * orders them on its one connection already.
   */
  private inOrder(roomId: string, publish: () => Promise<unknown>): Promise<unknown> {
    if (!this.redis.sharded) return publish();
    const previous = this.publishing.get(roomId) ?? Promise.resolve();
    const next = previous.then(publish);
    const settled = next.catch(() => undefined);
    this.publishing.set(roomId, settled);
    void settled.then(() => {
      if (this.publishing.get(roomId) === settled) this.publishing.delete(roomId);
    });
    return next;
  }

  /** The room's channels: the classic one, and on a cluster the sharded one in the room's slot. */
  private async subscribeChannels(roomId: string): Promise<void> {
    const { subscriber, keys } = this.redis;
    if (this.redis.sharded) await subscriber.ssubscribe(keys.events(roomId));
    await subscriber.subscribe(keys.channel(roomId));
  }

  /** A classic channel: a user's, or a room's. */
  private receiveClassic(channel: string, payload: string): void {
    const userId = this.redis.keys.userOfChannel(channel);
    if (userId === undefined) this.receive(this.redis.keys.roomOfChannel(channel), channel, payload);
    else this.receiveUser(userId, payload);
  }

  private receiveUser(userId: string, payload: string): void {
    const event = this.users.has(userId) ? decodeUserEvent(payload) : undefined;
    if (event) this.listeners.emitToUser(userId, event);
  }

  private receive(roomId: string | undefined, channel: string, payload: string): void {
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

  /**
   * Subscribes every room's and user's sharded channel again (a channel
   * still subscribed is unchanged), then resyncs: what was published while
   * a shard had dropped them is caught up from the store.
   */
  private async renewSharded(): Promise<void> {
    this.renewal = undefined;
    const { subscriber, keys } = this.redis;
    if (subscriber.status !== 'ready') return;
    const channels = this.channelsOf(
      (roomId) => keys.events(roomId),
      (userId) => keys.userEvents(userId),
    );
    // One command per channel: on a cluster, one SSUBSCRIBE takes the channels of one slot only.
    const failed = (await Promise.all(channels.map((channel) => subscriber.ssubscribe(channel).then(() => false, () => true)))).filter(Boolean).length;
    if (this.closing) return;
    if (failed > 0) this.logger.warn(`could not renew ${failed} of ${channels.length} sharded subscriptions`);
    await this.resync();
  }

  /** Every room's and every user's channel this instance holds, as `room` and `user` name them. */
  private channelsOf(room: (roomId: string) => string, user: (userId: string) => string): string[] {
    return [...[...this.rooms].map(room), ...[...this.users].map(user)];
  }

  private async resubscribe(): Promise<void> {
    const { keys } = this.redis;
    const channels = this.channelsOf(
      (roomId) => keys.channel(roomId),
      (userId) => keys.userChannel(userId),
    );
    if (channels.length > 0) {
      // A failure here is a connection lost again: its next `ready` runs this once more.
      await this.redis.subscriber.subscribe(...channels).catch((error: unknown) => {
        this.logger.warn(`could not resubscribe ${channels.length} rooms: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    await this.resync();
  }

  /**
   * Calls the resync listeners once the store can be read: a catch-up that
   * ran before the commands connection was back would fail and miss what it
   * came for, such as a history reset by a Redis that restarted empty.
   */
  private async resync(): Promise<void> {
    await this.redis.commandsReady();
    const lostAt = this.lostAt;
    this.lostAt = undefined;
    if (!this.closing) this.listeners.resync(lostAt);
  }

  private lost(): void {
    this.lostAt ??= Date.now();
  }
}
