import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SETTINGS, type Settings } from '../config/settings.js';
import { newId } from '../core/ids.js';
import { LimitKeys } from '../redis/limit-keys.js';
import { RedisService } from '../redis/redis.service.js';
import { ACQUIRE, RENEW } from './limit.scripts.js';

/** Renewals per slot lifetime: a slot survives two missed renewals. */
const RENEWALS_PER_TTL = 3;
/**
 * Slots renewed per script call on one Redis (a call ends with the user that
 * reaches it): idle connections cost a few calls per renewal, not one per
 * user, and no call holds Redis up for long, however many slots a user has.
 */
const SLOTS_PER_RENEWAL = 1024;

/**
 * A user's open connections across every instance, when `REDIS_URL` is set
 * (`MAX_CONNECTIONS_PER_USER` would otherwise multiply by the number of
 * instances). Each connection holds a slot in the user's sorted set, scored
 * by when it expires; this instance renews its slots every
 * `INSTANCE_TTL_MS / 3`, so the slots of a crashed instance expire within
 * `INSTANCE_TTL_MS`. Without Redis, or while it is away, every acquire
 * succeeds: the per-process count of the connection registry still holds.
 */
@Injectable()
export class ConnectionSlots implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectionSlots.name);
  private readonly keys: LimitKeys;
  private readonly ttlMs: number;
  /** Slots held here, by user. */
  private readonly held = new Map<string, Set<string>>();
  /**
   * Slots let go while Redis was away, by user: taken off once it is back,
   * else they would count against their user until they expire.
   */
  private readonly letGo = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisService,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {
    this.keys = new LimitKeys(settings.redis.keyPrefix);
    this.ttlMs = settings.redis.instanceTtlMs;
  }

  onModuleInit(): void {
    if (!this.redis.enabled) return;
    this.timer = setInterval(() => void this.renew(), Math.floor(this.ttlMs / RENEWALS_PER_TTL));
    this.timer.unref();
    this.redis.client.on('ready', () => void this.takeOffLetGo());
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** A slot for one more connection of the user, or undefined when they hold `max` across the cluster. */
  async acquire(userId: string, max: number): Promise<string | undefined> {
    const slot = newId();
    if (this.redis.enabled && this.redis.notReadyReason === undefined) {
      try {
        const acquired = await this.redis.call(() =>
          this.redis.run(ACQUIRE, [this.keys.connections(userId)], [slot, max, this.ttlMs]),
        );
        if (acquired !== 1) return undefined;
      } catch (error) {
        this.logger.debug(`connection slots counted locally: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    let slots = this.held.get(userId);
    if (!slots) this.held.set(userId, (slots = new Set()));
    slots.add(slot);
    return slot;
  }

  release(userId: string, slot: string): void {
    const slots = this.held.get(userId);
    if (!slots?.delete(slot)) return;
    if (slots.size === 0) this.held.delete(userId);
    if (!this.redis.enabled) return;
    const later = () => {
      let pending = this.letGo.get(userId);
      if (!pending) this.letGo.set(userId, (pending = new Set()));
      pending.add(slot);
    };
    if (this.redis.notReadyReason !== undefined) return later();
    this.redis.client.zrem(this.keys.connections(userId), slot).catch(later);
  }

  private async takeOffLetGo(): Promise<void> {
    const letGo = [...this.letGo];
    this.letGo.clear();
    for (const [userId, slots] of letGo) {
      await this.redis.client.zrem(this.keys.connections(userId), ...slots).catch(() => undefined);
    }
  }

  /**
   * Whether each user holds a connection anywhere (their live slots on
   * every instance with Redis; this instance's otherwise), in one round trip.
   */
  async online(userIds: string[]): Promise<boolean[]> {
    const local = userIds.map((id) => this.held.has(id));
    if (userIds.length === 0 || !this.redis.enabled || this.redis.notReadyReason !== undefined) return local;
    const pipeline = this.redis.client.pipeline();
    for (const userId of userIds) pipeline.zcount(this.keys.connections(userId), Date.now(), '+inf');
    const replies = (await pipeline.exec().catch(() => null)) ?? [];
    return local.map((here, i) => here || (replies[i]?.[0] === null && Number(replies[i][1]) > 0));
  }

  private async renew(): Promise<void> {
    if (this.redis.notReadyReason !== undefined) return;
    if (this.letGo.size > 0) await this.takeOffLetGo();
    if (this.held.size === 0) return;
    const calls: Array<Promise<unknown>> = [];
    let keys: string[] = [];
    let args: Array<string | number> = [this.ttlMs];
    for (const [userId, slots] of this.held) {
      keys.push(this.keys.connections(userId));
      args.push(slots.size, ...slots);
      // On a Redis Cluster a script's keys must share a hash slot, so there each user's slots take a call of their own.
      if (this.redis.sharded || args.length > SLOTS_PER_RENEWAL) {
        calls.push(this.redis.run(RENEW, keys, args));
        [keys, args] = [[], [this.ttlMs]];
      }
    }
    if (keys.length > 0) calls.push(this.redis.run(RENEW, keys, args));
    await Promise.all(calls).catch((error: unknown) => this.logger.debug(`renewing connection slots: ${String(error)}`));
  }
}
