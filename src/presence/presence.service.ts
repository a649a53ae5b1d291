import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { composeKey } from '../core/key-parts.js';
import type { RoomEvent } from '../core/room-event.js';
import { PRESENCE_STORE, presenceEvent, stoppedEvent, typingEvent, type PresenceStore } from './presence.store.js';

/** How early a timer may fire by the wall clock (see `expire`); a property of timers, not a setting. */
const EXPIRY_SLACK_MS = 20;

/** The connection a presence change comes from. */
export interface Participant {
  id: string;
  userId: string;
}

/**
 * Online presence and typing per room (PROTOCOL §2 "Typing", "Presence").
 * Every change is decided atomically by the store and published once on the
 * room's bus channel: by the store itself when it `announces`, else here.
 * Delivery to sockets is the rooms' job.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PresenceService.name);
  /**
   * Self-expiry of typing, keyed `composeKey(room, user)`: typing started
   * through this instance, and typing this instance heard of from another
   * (which may stop without ending it: a crash).
   */
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  /** The typists this instance watches for other instances (`watch`), per room it serves. */
  private readonly watched = new Map<string, Set<string>>();

  constructor(
    @Inject(PRESENCE_STORE) private readonly store: PresenceStore,
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  /**
   * Every instance that serves a room watches its typing, not only the one
   * it started through: if that one dies, the typing still ends within
   * TYPING_TTL_MS for everyone (the store hands each expiry to one caller,
   * so the stop is published once), not when the dead instance is reaped.
   */
  onModuleInit(): void {
    this.bus.onEvent((roomId, event) => {
      if (event.type === 'typing') this.watch(roomId, event.data.user_id);
      else if (event.type === 'typing_stopped') this.clearExpiry(roomId, event.data.user_id);
    });
  }

  /** A connection joined the room; returns who is online (the joiner included) and typing. */
  async joined(roomId: string, participant: Participant): Promise<{ online: string[]; typing: string[] }> {
    if (await this.store.addConnection(roomId, participant.userId, participant.id)) {
      await this.announce(roomId, presenceEvent(participant.userId, 'online', participant.id));
    }
    return this.snapshot(roomId);
  }

  /**
   * Who is online and typing in a room this instance serves. `strict`: fail
   * rather than answer from this instance alone while the shared store cannot be read.
   */
  async snapshot(roomId: string, strict = false): Promise<{ online: string[]; typing: string[] }> {
    const [online, typing] = await Promise.all([this.store.online(roomId, strict), this.store.typing(roomId, Date.now(), strict)]);
    // Typing this instance has not heard start (it served no one here then, or missed it) is watched from now, like
    // typing it hears: if the instance it came through dies, it still ends within TYPING_TTL_MS (or a throttle window more).
    for (const userId of typing) if (!this.expiryTimers.has(composeKey(roomId, userId))) this.watch(roomId, userId);
    return { online, typing };
  }

  /**
   * A connection left the room or closed (after the room let it go, so the
   * bus no longer wants a room it was the last in); the user's last one ends
   * their typing and presence.
   */
  async left(roomId: string, participant: Participant): Promise<void> {
    if (!this.bus.wants(roomId)) this.unwatchRoom(roomId);
    if (!(await this.store.removeConnection(roomId, participant.userId, participant.id))) return;
    // A store that announces ended the typing with the presence, in one step.
    if (this.store.announces) return this.clearExpiry(roomId, participant.userId);
    await this.stopTyping(roomId, participant.userId);
    await this.announce(roomId, presenceEvent(participant.userId, 'offline', participant.id));
  }

  async typing(roomId: string, participant: Participant, isTyping: boolean): Promise<void> {
    if (!isTyping) return this.stopTyping(roomId, participant.userId);
    const { throttleMs, ttlMs } = this.settings.typing;
    const typist = { userId: participant.userId, connectionId: participant.id };
    const broadcast = await this.store.startTyping(roomId, typist, Date.now(), throttleMs, ttlMs);
    this.scheduleExpiry(roomId, participant.userId, ttlMs);
    if (broadcast) await this.announce(roomId, typingEvent(typist));
  }

  /**
   * Ends a user's typing (explicit stop, a sent message, the last connection gone).
   * `sharedEnded`: see `PresenceStore.stopTyping`.
   */
  async stopTyping(roomId: string, userId: string, sharedEnded?: string | null): Promise<void> {
    this.clearExpiry(roomId, userId);
    const typist = await this.store.stopTyping(roomId, userId, sharedEnded);
    if (typist) await this.announce(roomId, stoppedEvent(typist));
  }

  onModuleDestroy(): void {
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
  }

  private scheduleExpiry(roomId: string, userId: string, ttlMs: number): void {
    const key = composeKey(roomId, userId);
    clearTimeout(this.expiryTimers.get(key));
    const timer = setTimeout(() => {
      this.expiryTimers.delete(key);
      this.expire(roomId).catch((error: unknown) => this.logger.error(error));
    }, ttlMs);
    timer.unref();
    this.expiryTimers.set(key, timer);
  }

  /**
   * Expires a typing this instance heard of, `delayMs` from now (the TTL
   * from each start it hears). The typist's starts within a throttle window
   * are not broadcast, yet move the deadline: one still typing at the check
   * is checked again a throttle window later, so the typing ends at most
   * that long after its true deadline.
   */
  private watch(roomId: string, userId: string, delayMs = this.settings.typing.ttlMs): void {
    // A room no connection of this instance is in (the bus does not want it) is watched by the instances that serve it.
    if (!this.bus.wants(roomId)) return;
    const key = composeKey(roomId, userId);
    clearTimeout(this.expiryTimers.get(key));
    const users = this.watched.get(roomId);
    if (users) users.add(userId);
    else this.watched.set(roomId, new Set([userId]));
    const timer = setTimeout(() => {
      this.expiryTimers.delete(key);
      this.unwatch(roomId, userId);
      void this.expire(roomId)
        .then(() => this.store.typing(roomId, Date.now()))
        .then((typing) => typing.includes(userId) && this.watch(roomId, userId, this.settings.typing.throttleMs))
        .catch((error: unknown) => this.logger.warn(`Could not expire typing in room ${roomId}: ${error instanceof Error ? error.message : String(error)}`));
    }, delayMs);
    timer.unref();
    this.expiryTimers.set(key, timer);
  }

  /** The room's last connection here left: its watches go with it. */
  private unwatchRoom(roomId: string): void {
    const users = this.watched.get(roomId);
    if (!users) return;
    this.watched.delete(roomId);
    for (const userId of users) this.clearExpiry(roomId, userId);
  }

  private unwatch(roomId: string, userId: string): void {
    const users = this.watched.get(roomId);
    if (users?.delete(userId) && users.size === 0) this.watched.delete(roomId);
  }

  private clearExpiry(roomId: string, userId: string): void {
    // Every sent message ends its sender's typing; most senders were not typing through this instance.
    if (this.expiryTimers.size === 0) return;
    const key = composeKey(roomId, userId);
    clearTimeout(this.expiryTimers.get(key));
    this.expiryTimers.delete(key);
    this.unwatch(roomId, userId);
  }

  /** Publishes a stop for each typing that ran out; the store hands each one to one caller only. */
  async expire(roomId: string): Promise<void> {
    // The slack covers a timer that fires a little early by the wall clock,
    // which would otherwise find nothing expired and leave the typing behind.
    for (const typist of await this.store.expireTyping(roomId, Date.now() + EXPIRY_SLACK_MS)) {
      await this.announce(roomId, stoppedEvent(typist));
    }
  }

  /** Publishes a change the store decided, unless the store published it itself. */
  private async announce(roomId: string, event: RoomEvent): Promise<void> {
    if (!this.store.announces) await this.bus.publish(roomId, event);
  }
}
