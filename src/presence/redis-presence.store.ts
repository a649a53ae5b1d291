import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { RoomBus } from '../bus/room-bus.js';
import { encodeRoomEvent, typingStoppedTemplate, type RoomEvent } from '../core/room-event.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import {
  CLAIM_DEAD,
  PRESENCE_JOIN,
  PRESENCE_LEAVE,
  REAP_PAIR,
  TYPING_EXPIRE,
  TYPING_START,
  TYPING_STOP,
} from './presence.scripts.js';
import { presenceEvent, stoppedEvent, typingEvent, type PresenceStore, type Typist } from './presence.store.js';

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
 * start (and not before two INSTANCE_TTL_MS more), so a room nobody stops
 * typing in does not keep its hash for ever; entries expire by their own
 * deadline long before. The typing of an instance that crashed has no timer
 * left to end it: the hash must outlast the reap that stops it.
 */
const TYPING_KEY_TTLS = 2;
/** The typing stop the scripts publish, around the user and the connection they find. */
const TYPING_STOPPED = typingStoppedTemplate();

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
 *
 * It announces each change itself (`announces`): a script publishes the
 * event of the change it decides, in the same step (see presence.scripts),
 * and the bus delivers it here too while its subscription is down; a change
 * decided locally while Redis is away goes to the bus, which then delivers
 * to this instance's own connections.
 */
export class RedisPresenceStore implements PresenceStore, OnModuleInit, OnModuleDestroy {
  readonly announces = true;
  private readonly logger = new Logger(RedisPresenceStore.name);
  private readonly local = new MemoryPresenceStore();
  private heartbeat: NodeJS.Timeout | undefined;
  private outOfSync = false;
  /** The shared step in flight per (room, user) held pair: a join and a leave of one pair reach Redis in the order they were made. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly redis: RedisService,
    private readonly bus: RoomBus,
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
    const online = presenceEvent(userId, 'online', connectionId);
    return this.orLocal(() => this.sharedJoin(roomId, userId, online), () => this.announceAway(roomId, online));
  }

  /** The user's last connection here ends their typing as well as their presence (see `PresenceStore`). */
  async removeConnection(roomId: string, userId: string, connectionId: string): Promise<boolean> {
    if (!(await this.local.removeConnection(roomId, userId, connectionId))) return false;
    // A typing started while Redis was away is known here only: its stop goes before the offline.
    const local = await this.local.stopTyping(roomId, userId);
    if (local) await this.bus.publish(roomId, stoppedEvent(local));
    const offline = presenceEvent(userId, 'offline', connectionId);
    return this.orLocal(() => this.sharedLeave(roomId, userId, offline), () => this.announceAway(roomId, offline));
  }

  async online(roomId: string, strict = false): Promise<string[]> {
    const local = await this.local.online(roomId);
    const read = () => this.redis.call(() => this.redis.client.smembers(this.redis.keys.room(roomId, 'online')));
    const shared = strict ? await read() : await this.orLocal(read, []);
    return [...new Set([...shared, ...local])];
  }

  async startTyping(roomId: string, typist: Typist, now: number, throttleMs: number, ttlMs: number): Promise<boolean> {
    const started = typingEvent(typist);
    return this.orLocal(
      async () => {
        const keyTtlMs = Math.max(ttlMs * TYPING_KEY_TTLS, ttlMs + 2 * this.instanceTtlMs);
        const args = [typist.userId, typist.connectionId, this.redis.instanceId, now, throttleMs, ttlMs, keyTtlMs, ...this.publishing(roomId), encodeRoomEvent(started)];
        const broadcast = (await this.eval(TYPING_START, [this.redis.keys.room(roomId, 'typing')], args)) === 1;
        if (broadcast) this.bus.published(roomId, started);
        return broadcast;
      },
      async () => {
        const broadcast = await this.local.startTyping(roomId, typist, now, throttleMs, ttlMs);
        return broadcast && this.announceAway(roomId, started);
      },
    );
  }

  /**
   * The shared typing is ended (and its stop published) by a script: this
   * one, or a message's append (`sharedEnded`: the connection whose stop it
   * left to the caller, or null).
   */
  async stopTyping(roomId: string, userId: string, sharedEnded?: string | null): Promise<Typist | undefined> {
    const local = await this.local.stopTyping(roomId, userId);
    if (sharedEnded === undefined) {
      const args = [userId, ...this.publishing(roomId), ...TYPING_STOPPED];
      const ended = await this.orLocal(async () => (await this.eval(TYPING_STOP, [this.redis.keys.room(roomId, 'typing')], args)) as string | null, null);
      if (ended) {
        const typist = { userId, connectionId: ended };
        this.bus.published(roomId, stoppedEvent(typist));
        return typist;
      }
    }
    // Left to this caller: the append's typist, or one known here only (started while Redis was away).
    const typist = sharedEnded ? { userId, connectionId: sharedEnded } : local;
    if (typist) await this.bus.publish(roomId, stoppedEvent(typist));
    return typist;
  }

  async expireTyping(roomId: string, now: number): Promise<Typist[]> {
    const local = await this.local.expireTyping(roomId, now);
    const args = [now, ...this.publishing(roomId), ...TYPING_STOPPED];
    const flat = await this.orLocal(async () => (await this.eval(TYPING_EXPIRE, [this.redis.keys.room(roomId, 'typing')], args)) as string[], []);
    const shared: Typist[] = [];
    for (let i = 0; i < flat.length; i += 2) shared.push({ userId: flat[i], connectionId: flat[i + 1] });
    for (const typist of shared) this.bus.published(roomId, stoppedEvent(typist));
    // The script published the shared ones; typing known only here is announced now.
    const localOnly = local.filter((l) => !shared.some((s) => s.userId === l.userId));
    for (const typist of localOnly) await this.bus.publish(roomId, stoppedEvent(typist));
    return [...shared, ...localOnly];
  }

  async typing(roomId: string, now: number, strict = false): Promise<string[]> {
    const local = await this.local.typing(roomId, now);
    const read = () => this.redis.call(() => this.redis.client.hgetall(this.redis.keys.room(roomId, 'typing')));
    const all = strict ? await read() : await this.orLocal(read, {});
    const shared = Object.entries(all)
      .filter(([, value]) => Number(value.split('|')[3]) > now)
      .map(([userId]) => userId);
    return [...new Set([...shared, ...local])];
  }

  /**
   * Two steps, because the instance's held set and the room's keys sit in
   * different slots: the held pair first, so a crash in between leaves
   * nothing the reaper cannot clear. Returns whether the user came online
   * (the script published `online`).
   */
  private sharedJoin(roomId: string, userId: string, online: RoomEvent): Promise<boolean> {
    const { client, keys, instanceId } = this.redis;
    return this.inOrder(keys.heldPair(roomId, userId), async () => {
      await client.sadd(keys.instanceHeld(instanceId), keys.heldPair(roomId, userId));
      const args = [instanceId, userId, ...this.publishing(roomId), encodeRoomEvent(online)];
      const came = (await this.eval(PRESENCE_JOIN, [keys.online(roomId, userId), keys.room(roomId, 'online')], args)) === 1;
      if (came) this.bus.published(roomId, online);
      return came;
    });
  }

  /**
   * The room's keys first, then the held pair (see `sharedJoin`). Returns
   * whether the user went offline (the script published it, after the stop
   * of their typing if they were typing). A failure to drop the held pair is
   * left to the next reconcile: the change itself is made and published.
   */
  private sharedLeave(roomId: string, userId: string, offline: RoomEvent): Promise<boolean> {
    const { client, keys, instanceId } = this.redis;
    return this.inOrder(keys.heldPair(roomId, userId), async () => {
      const roomKeys = [keys.online(roomId, userId), keys.room(roomId, 'online'), keys.room(roomId, 'typing')];
      const args = [instanceId, userId, ...this.publishing(roomId), encodeRoomEvent(offline), ...TYPING_STOPPED];
      const [left, typist] = (await this.eval(PRESENCE_LEAVE, roomKeys, args)) as [number, string | null];
      await client.srem(keys.instanceHeld(instanceId), keys.heldPair(roomId, userId)).catch(() => {
        this.outOfSync = true;
      });
      if (left !== 1) return false;
      if (typist) this.bus.published(roomId, stoppedEvent({ userId, connectionId: typist }));
      this.bus.published(roomId, offline);
      return true;
    });
  }

  /** Runs `work` after the pair's previous shared step has settled (a one-script step used to be ordered by the connection alone). */
  private inOrder<T>(pair: string, work: () => Promise<T>): Promise<T> {
    const previous = this.inFlight.get(pair) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const settled = next.catch(() => undefined);
    this.inFlight.set(pair, settled);
    void settled.then(() => {
      if (this.inFlight.get(pair) === settled) this.inFlight.delete(pair);
    });
    return next;
  }

  /** Renews this instance's heartbeat and reaps instances whose heartbeat ran out. */
  private async beat(): Promise<void> {
    const { client, keys, instanceId } = this.redis;
    const now = Date.now();
    try {
      // 1 means this instance was not listed: it was reaped while out of touch.
      const added = await client.zadd(keys.instances(), now + this.instanceTtlMs, instanceId);
      if (added === 1 || this.outOfSync) await this.reconcile();
      const reaped = await this.reap(now);
      if (reaped) this.logger.log(`Cleared the presence of ${String(reaped)} dead instance(s)`);
    } catch {
      // Redis is away; the next beat tries again.
    }
  }

  /**
   * Clears what instances whose heartbeat ran out still held: their users
   * go offline where no other instance holds them, and their typing stops.
   * Several steps, each in one slot: claim the dead (`CLAIM_DEAD`, so one
   * reaper takes each), one `REAP_PAIR` per held (room, user) pair in the
   * room's slot (which publishes what it clears), then the held set and the listing.
   * A reaper that stops halfway leaves the instance to be claimed again when
   * its lease runs out, and `REAP_PAIR` finds nothing twice. Returns how many
   * instances it cleared.
   */
  private async reap(now: number): Promise<number> {
    const { client, keys } = this.redis;
    const dead = (await this.eval(CLAIM_DEAD, [keys.instances()], [now, now + this.instanceTtlMs, REAP_BATCH])) as string[];
    for (const id of dead) {
      for (const pair of await client.smembers(keys.instanceHeld(id))) {
        const held = keys.parseHeldPair(pair);
        if (!held) continue;
        const [roomId, userId] = held;
        const offline = presenceEvent(userId, 'offline', id);
        const [stopped, wentOffline] = (await this.eval(
          REAP_PAIR,
          [keys.online(roomId, userId), keys.room(roomId, 'online'), keys.room(roomId, 'typing')],
          [id, userId, ...this.publishing(roomId), ...TYPING_STOPPED, encodeRoomEvent(offline)],
        )) as [string | null, number];
        if (stopped) this.bus.published(roomId, stoppedEvent({ userId, connectionId: stopped }));
        if (wentOffline === 1) this.bus.published(roomId, offline);
      }
      await client.del(keys.instanceHeld(id));
      await client.zrem(keys.instances(), id);
    }
    return dead.length;
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
      await this.sharedLeave(roomId, userId, presenceEvent(userId, 'offline', ''));
    }
    for (const [roomId, userId] of this.local.entries()) await this.sharedJoin(roomId, userId, presenceEvent(userId, 'online', ''));
    this.outOfSync = false;
  }

  /** The publish command and the channel a script publishes the room's events with. */
  private publishing(roomId: string): [string, string] {
    return [this.redis.publishCommand, this.redis.eventChannel(roomId)];
  }

  /**
   * A change decided here because a shared step failed: while the connection
   * to Redis is down, the bus delivers it to this instance's connections.
   * With the connection up the step failed otherwise (a timeout): its script
   * may have run and published it already, and a change is published once.
   */
  private async announceAway(roomId: string, event: RoomEvent): Promise<true> {
    if (this.redis.client.status !== 'ready') await this.bus.publish(roomId, event);
    return true;
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
