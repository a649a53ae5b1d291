import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { encodeRoomEvent, type RoomEvent } from '../core/room-event.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import {
  PRESENCE_JOIN,
  PRESENCE_LEAVE,
  REAP_DEAD_INSTANCES,
  TYPING_EXPIRE,
  TYPING_START,
  TYPING_STOP,
} from './presence.scripts.js';
import type { PresenceStore, Typist } from './presence.store.js';

/**
 * Heartbeats per INSTANCE_TTL_MS: two can be lost before the instance is
 * presumed dead. Follows the TTL, so it is not a setting of its own.
 */
const BEATS_PER_TTL = 3;
/** A floor on the heartbeat period, so a tiny TTL cannot turn it into a busy loop on Redis. */
const MIN_BEAT_MS = 250;
/**
 * Dead instances cleared per heartbeat: bounds how long one script blocks
 * Redis; the rest are cleared on the next beats. Not a setting because no
 * deployment needs to tune it: a crash leaves one dead instance, rarely more.
 */
const REAP_BATCH = 20;
/**
 * A room's typing hash expires this many TYPING_TTL_MS after its latest
 * start, so a room nobody stops typing in does not keep its hash for ever;
 * entries expire by their own deadline long before.
 */
const TYPING_KEY_TTLS = 2;

/**
 * Presence and typing shared over Redis.
 *
 * This instance's own connections are kept in a `MemoryPresenceStore`, and
 * Redis learns only when a user's first (or last) connection on this
 * instance joins (or leaves) a room. While Redis is away every answer falls
 * back to the local store, so presence and typing keep working among this
 * instance's connections; when Redis is back, the local presence is
 * registered again.
 *
 * Each instance heartbeats in a sorted set; any instance reaps one whose
 * heartbeat ran out (a crash), clearing its presence and typing within
 * `INSTANCE_TTL_MS`.
 */
export class RedisPresenceStore implements PresenceStore, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisPresenceStore.name);
  private readonly local = new MemoryPresenceStore();
  private heartbeat: NodeJS.Timeout | undefined;
  private outOfSync = false;

  constructor(
    private readonly redis: RedisService,
    private readonly instanceTtlMs: number,
  ) {}

  onModuleInit(): void {
    this.heartbeat = setInterval(() => void this.beat(), Math.max(MIN_BEAT_MS, Math.floor(this.instanceTtlMs / BEATS_PER_TTL)));
    this.heartbeat.unref();
    // After an outage, Redis may hold presence this instance no longer has, or miss some it has.
    this.redis.client.on('ready', () => {
      this.outOfSync = true;
      void this.beat();
    });
    // Beat at once: an instance that crashed before its first beat would never be reaped.
    void this.beat();
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
  }

  async addConnection(roomId: string, userId: string, connectionId: string): Promise<boolean> {
    if (!(await this.local.addConnection(roomId, userId, connectionId))) return false;
    return this.orLocal(async () => (await this.eval(PRESENCE_JOIN, this.presenceKeys(roomId, userId), this.presenceArgs(roomId, userId))) === 1, true);
  }

  async removeConnection(roomId: string, userId: string, connectionId: string): Promise<boolean> {
    if (!(await this.local.removeConnection(roomId, userId, connectionId))) return false;
    return this.orLocal(async () => (await this.eval(PRESENCE_LEAVE, this.presenceKeys(roomId, userId), this.presenceArgs(roomId, userId))) === 1, true);
  }

  async online(roomId: string): Promise<string[]> {
    const local = await this.local.online(roomId);
    const shared = await this.orLocal(() => this.redis.client.smembers(this.redis.keys.room(roomId, 'online')), []);
    return [...new Set([...shared, ...local])];
  }

  async startTyping(roomId: string, typist: Typist, now: number, throttleMs: number, ttlMs: number): Promise<boolean> {
    return this.orLocal(
      async () => {
        const args = [typist.userId, typist.connectionId, this.redis.instanceId, now, throttleMs, ttlMs, ttlMs * TYPING_KEY_TTLS];
        return (await this.eval(TYPING_START, [this.redis.keys.room(roomId, 'typing')], args)) === 1;
      },
      () => this.local.startTyping(roomId, typist, now, throttleMs, ttlMs),
    );
  }

  async stopTyping(roomId: string, userId: string, sharedEnded?: string | null): Promise<Typist | undefined> {
    const local = await this.local.stopTyping(roomId, userId);
    const connectionId =
      sharedEnded !== undefined
        ? sharedEnded
        : await this.orLocal(
            async () => (await this.eval(TYPING_STOP, [this.redis.keys.room(roomId, 'typing')], [userId])) as string | null,
            null,
          );
    return connectionId ? { userId, connectionId } : local;
  }

  async expireTyping(roomId: string, now: number): Promise<Typist[]> {
    const local = await this.local.expireTyping(roomId, now);
    const flat = await this.orLocal(
      async () => (await this.eval(TYPING_EXPIRE, [this.redis.keys.room(roomId, 'typing')], [now])) as string[],
      [],
    );
    const shared: Typist[] = [];
    for (let i = 0; i < flat.length; i += 2) shared.push({ userId: flat[i], connectionId: flat[i + 1] });
    return [...shared, ...local.filter((l) => !shared.some((s) => s.userId === l.userId))];
  }

  async typing(roomId: string, now: number): Promise<string[]> {
    const local = await this.local.typing(roomId, now);
    const all = await this.orLocal(() => this.redis.client.hgetall(this.redis.keys.room(roomId, 'typing')), {});
    const shared = Object.entries(all)
      .filter(([, value]) => Number(value.split('|')[3]) > now)
      .map(([userId]) => userId);
    return [...new Set([...shared, ...local])];
  }

  private presenceKeys(roomId: string, userId: string): string[] {
    const { keys, instanceId } = this.redis;
    return [keys.online(roomId, userId), keys.room(roomId, 'online'), keys.instanceHeld(instanceId)];
  }

  private presenceArgs(roomId: string, userId: string): string[] {
    return [this.redis.instanceId, userId, this.redis.keys.heldPair(roomId, userId)];
  }

  /** Renews this instance's heartbeat and reaps instances whose heartbeat ran out. */
  private async beat(): Promise<void> {
    const { client, keys, instanceId } = this.redis;
    const now = Date.now();
    try {
      // 1 means this instance was not listed: it was reaped while out of touch.
      const added = await client.zadd(keys.instances(), now + this.instanceTtlMs, instanceId);
      if (added === 1 || this.outOfSync) await this.reconcile();
      const [reaped, events] = (await this.eval(
        REAP_DEAD_INSTANCES,
        [keys.instances()],
        [now, keys.roomPrefix(), keys.heldPrefix(), REAP_BATCH],
      )) as [number, Array<[pair: string, kind: 'typing_stopped' | 'offline', connectionId: string]>];
      for (const [pair, kind, connectionId] of events) {
        const held = keys.parseHeldPair(pair);
        if (!held) continue;
        const [roomId, userId] = held;
        const event: RoomEvent =
          kind === 'offline'
            ? { type: 'presence', data: { user_id: userId, status: 'offline', connection_id: connectionId } }
            : { type: 'typing_stopped', data: { user_id: userId, connection_id: connectionId } };
        await client.publish(keys.channel(roomId), encodeRoomEvent(event));
      }
      if (reaped) this.logger.log(`Cleared the presence of ${String(reaped)} dead instance(s)`);
    } catch {
      // Redis is away; the next beat tries again.
    }
  }

  /**
   * Makes Redis agree with this instance's connections again (after an
   * outage or a reap): pairs that left meanwhile go offline, pairs still
   * here come back, and each resulting change is published once.
   */
  private async reconcile(): Promise<void> {
    const { client, keys, instanceId } = this.redis;
    const local = new Set([...this.local.entries()].map(([roomId, userId]) => keys.heldPair(roomId, userId)));
    for (const pair of await client.smembers(keys.instanceHeld(instanceId))) {
      if (local.has(pair)) continue;
      const held = keys.parseHeldPair(pair);
      if (!held) {
        await client.srem(keys.instanceHeld(instanceId), pair);
        continue;
      }
      const [roomId, userId] = held;
      if ((await this.eval(PRESENCE_LEAVE, this.presenceKeys(roomId, userId), this.presenceArgs(roomId, userId))) === 1) {
        await this.publishPresence(roomId, userId, 'offline');
      }
    }
    for (const [roomId, userId] of this.local.entries()) {
      if ((await this.eval(PRESENCE_JOIN, this.presenceKeys(roomId, userId), this.presenceArgs(roomId, userId))) === 1) {
        await this.publishPresence(roomId, userId, 'online');
      }
    }
    this.outOfSync = false;
  }

  private async publishPresence(roomId: string, userId: string, status: 'online' | 'offline'): Promise<void> {
    const event: RoomEvent = { type: 'presence', data: { user_id: userId, status, connection_id: '' } };
    await this.redis.client.publish(this.redis.keys.channel(roomId), encodeRoomEvent(event));
  }

  private eval(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    return this.redis.run(script, keys, args);
  }

  /** The shared answer, or the local one while Redis is away. */
  private async orLocal<T>(shared: () => Promise<T>, local: T | (() => Promise<T>)): Promise<T> {
    try {
      return await shared();
    } catch {
      return typeof local === 'function' ? (local as () => Promise<T>)() : local;
    }
  }
}
