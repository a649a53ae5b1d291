import { Inject, Injectable, Optional } from '@nestjs/common';
import { SETTINGS, Settings } from '../config/settings.js';
import { MessagesService, type Recovery, type Since } from '../messages/messages.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { AppLogger } from '../logging/app-logger.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { ChatError } from './chat.error.js';
import { CloseCode } from './protocol.js';
import type { Connection } from './connection.js';
import type { LocalRoom } from './local-room.js';
import { RoomFanout } from './room-fanout.js';

/** Store reads a join makes to resend frames dropped while it was held, before it gives up. */
const RESEND_ROUNDS = 3;

/** The epoch a join answers with while the store is away: matches no history, so the next `since` reloads. */
const UNKNOWN_EPOCH = 'unknown';

/**
 * Joins and leaves of this instance's connections: the membership rule
 * comes from `RoomsService`, presence and recovery from their services, and
 * the answer (`joined`, then the recovered messages, then the live stream)
 * is written here.
 */
@Injectable()
export class JoinsService {
  constructor(
    private readonly fanout: RoomFanout,
    private readonly rooms: RoomsService,
    private readonly presence: PresenceService,
    private readonly messages: MessagesService,
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly logger: AppLogger,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    fanout.onHistoryReset((roomId) => void this.confirmMembers(roomId));
  }

  /**
   * Joins the room and answers `joined` (with `ref`), then the recovered
   * messages, then whatever the room received meanwhile: live events must
   * follow the answer, not precede it.
   */
  async join(connection: Connection, roomId: string, since?: Since, ref?: string): Promise<void> {
    const max = this.settings.limits.maxRoomsPerConnection;
    if (!connection.rooms.has(roomId) && connection.rooms.size >= max) {
      throw new ChatError('too_many_rooms', `A connection may join at most ${max} rooms`, roomId);
    }
    // Attached before the first await, so a close or a removal meanwhile
    // finds the connection in the room and takes it out.
    const room = this.fanout.attach(connection, roomId);
    let presence: { online: string[]; typing: string[] };
    let recovery: Recovery;
    try {
      await this.rooms.assertMayJoin(connection.userId, roomId);
      // Not live yet (the bus is away) still joins: the bus subscribes on
      // reconnect and the room then catches up from the store. A connected
      // bus that refused the subscription would leave the join with no live
      // stream: that is refused instead, and the client may try again.
      if ((await this.fanout.live(roomId, room)) === 'refused') {
        throw new ChatError('unavailable', 'The room could not be subscribed; try again', roomId);
      }
      presence = await this.presence.joined(roomId, connection);
      // Recovery joins share the connection's budget; past it, `recovered: false` without reading.
      const limit = Math.min(this.settings.messages.recoveryMaxMessages, connection.recovery.available());
      recovery = await this.messages.recover(roomId, since, limit).catch((error: unknown) => this.withoutStore(error, room, since));
      connection.recovery.spend(recovery.messages.length);
    } catch (error) {
      await this.leave(connection, roomId);
      throw error;
    }
    if (!connection.rooms.has(roomId)) {
      // Closed or left while joining: undo what this join recorded.
      await this.presence.left(roomId, connection);
      throw new ChatError('not_joined', 'The room was left while joining', roomId);
    }
    const { head, messages, recovered } = recovery;
    const upToSeq = Math.max(head.seq, messages.at(-1)?.seq ?? 0);
    if (head.epoch !== UNKNOWN_EPOCH) {
      room.lastSeq ??= head.seq;
      room.epoch ??= head.epoch;
    }
    connection.send({ type: 'joined', room_id: roomId, seq: upToSeq, epoch: head.epoch, recovered, ...presence }, ref);
    for (const message of messages) connection.send({ type: 'message', message });
    room.release(connection, await this.resendDropped(connection, roomId, room, upToSeq));
  }

  /**
   * If the frames held for the joining connection passed the bound, they
   * were dropped: the messages among them are read from the store and
   * written now (newer frames are held afresh meanwhile). Returns the seq
   * the connection has. A store that cannot answer, or a room too busy to
   * catch up in a few rounds, closes the connection with 1013: the client
   * reconnects and recovers with `since`.
   */
  private async resendDropped(connection: Connection, roomId: string, room: LocalRoom, upToSeq: number): Promise<number> {
    let sent = upToSeq;
    for (let round = 0; room.overflowed(connection); round++) {
      if (!connection.rooms.has(roomId)) return sent;
      if (round >= RESEND_ROUNDS) {
        connection.close(CloseCode.tryAgainLater, 'slow_join');
        return sent;
      }
      try {
        const batch = this.settings.messages.recoveryMaxMessages;
        for (;;) {
          const { messages } = await this.messages.readAfter(roomId, sent, batch);
          for (const message of messages) {
            if ((message.seq ?? 0) <= sent) continue;
            connection.send({ type: 'message', message });
            sent = message.seq ?? sent;
          }
          if (messages.length < batch) break;
        }
      } catch {
        connection.close(CloseCode.tryAgainLater, 'slow_join');
        return sent;
      }
    }
    return sent;
  }

  /**
   * While the shared store is away a join still succeeds, from what this
   * instance knows of the room. Nothing can be read, so only a `since` at
   * the room's last message here counts as recovered: this instance stores
   * none meanwhile, and any that others stored reach every joined
   * connection when the room catches up.
   */
  private withoutStore(error: unknown, room: LocalRoom, since: Since | undefined): Recovery {
    if (!(error instanceof StoreUnavailableError)) throw error;
    const head = { seq: room.lastSeq ?? 0, epoch: room.epoch ?? UNKNOWN_EPOCH, lastMessageAt: null };
    const recovered = since !== undefined && room.lastSeq !== undefined && since.epoch === room.epoch && since.seq === room.lastSeq;
    if (since) this.metrics?.recoveries.inc({ outcome: recovered ? 'recovered' : 'unavailable' });
    return { head, messages: [], recovered };
  }

  /** Leaves one room; false if the connection had not joined it. */
  async leave(connection: Connection, roomId: string): Promise<boolean> {
    if (!(await this.fanout.detach(connection, roomId))) return false;
    await this.presence.left(roomId, connection);
    return true;
  }

  async leaveAll(connection: Connection): Promise<void> {
    await Promise.all([...connection.rooms].map((roomId) => this.leave(connection, roomId)));
  }

  /**
   * The bus was away: a removal published meanwhile (`member_removed`) never
   * came, so every room's connections here are checked against the store.
   */
  confirmAllMembers(): void {
    for (const roomId of this.fanout.roomIds()) void this.confirmMembers(roomId, 'the bus reconnected');
  }

  /**
   * The room's history was reset: the store lost its data (a Redis
   * restarted empty), and with it maybe the room. Its connections here
   * joined on membership the store may no longer have; those whose user it
   * does not know as a member leave as if removed, rather than go on
   * sending into a room that no longer exists.
   */
  private async confirmMembers(roomId: string, after = 'its history was reset'): Promise<void> {
    const users = new Set(this.fanout.connections(roomId).map((connection) => connection.userId));
    for (const userId of users) {
      try {
        if (!(await this.rooms.isMember(roomId, userId))) this.removeLocally(roomId, userId);
      } catch (error) {
        // The next reset, or the client's next join, checks again.
        const reason = error instanceof Error ? error.message : String(error);
        this.logger.warn(`Could not confirm ${userId}'s membership of room ${roomId} after ${after}: ${reason}`, JoinsService.name);
      }
    }
  }

  /** The store no longer has the room (a send found it gone): every connection here leaves it, as if removed. */
  roomLost(roomId: string): void {
    this.removeLocally(roomId);
  }

  /** A member was removed (on any instance): their connections here (all of the room's, without `userId`) leave the room and are told. */
  removeLocally(roomId: string, userId?: string): void {
    for (const connection of this.fanout.connections(roomId)) {
      if (userId !== undefined && connection.userId !== userId) continue;
      this.leave(connection, roomId)
        .then((left) => left && connection.send({ type: 'left', room_id: roomId, reason: 'removed' }))
        .catch((error: unknown) => this.logger.forConnection(connection.logFields, JoinsService.name).error({ err: error }, 'could not take a removed member out of the room'));
    }
  }
}
