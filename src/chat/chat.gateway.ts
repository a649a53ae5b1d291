import { Inject, UseFilters, UsePipes } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { AuthError } from '../auth/session.js';
import { TokenService } from '../auth/token.service.js';
import { SETTINGS, Settings, WS_PATH } from '../config/settings.js';
import { RoomLostError } from '../core/domain.error.js';
import { AppLogger } from '../logging/app-logger.js';
import { MessagesService } from '../messages/messages.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { UsersService } from '../users/users.service.js';
import { profileUpdate } from './profile-claims.js';
import { UserEventsListener } from './user-events.listener.js';
import { ChatError } from './chat.error.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection.registry.js';
import { JoinsService } from './joins.service.js';
import {
  JoinRoomFrame,
  LeaveRoomFrame,
  ReadFrame,
  RefreshTokenFrame,
  SendMessageFrame,
  TypingFrame,
} from './dto/frames.dto.js';
import type { Reply } from './protocol.js';
import { FramePipe } from './frame.pipe.js';
import { WsErrorFilter } from './ws-error.filter.js';

/**
 * The WebSocket endpoint. Translates frames into service calls and their
 * results into answer frames; the rules live in the services.
 * What a handler returns is sent as the answer, with the frame's `ref`.
 * Every frame passes `WsJwtGuard`'s check first: `ChatWsAdapter` runs it
 * at dispatch for every handler, so no handler can miss it.
 */
@WebSocketGateway({ path: WS_PATH })
@UseFilters(WsErrorFilter)
@UsePipes(FramePipe)
export class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly joins: JoinsService,
    private readonly presence: PresenceService,
    private readonly messages: MessagesService,
    private readonly tokens: TokenService,
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly logger: AppLogger,
    private readonly rooms: RoomsService,
    private readonly users: UsersService,
    private readonly userEvents: UserEventsListener,
  ) {}

  /**
   * `connected` goes out once the user's events reach this connection and the token's profile
   * claims are remembered; frames the client sent meanwhile are handled after it (`greet`).
   */
  async handleConnection(socket: WebSocket): Promise<void> {
    const connection = this.connection(socket);
    const update = profileUpdate(connection.session);
    await Promise.all([
      update && this.users.remember(update).catch((error: unknown) => this.logger.warn(`Could not remember a profile: ${String(error)}`)),
      this.userEvents.opened(connection),
    ]);
    connection.send({
      type: 'connected',
      message: 'WebSocket connection established',
      user_id: connection.userId,
      connection_id: connection.id,
      heartbeat_interval_ms: this.settings.ws.heartbeatIntervalMs,
    });
    connection.greet();
  }

  async handleDisconnect(socket: WebSocket): Promise<void> {
    const connection = this.connections.remove(socket);
    if (!connection) return;
    this.userEvents.closed(connection);
    const log = this.logger.forConnection(connection.logFields, ChatGateway.name);
    log.debug('connection closed');
    await this.joins.leaveAll(connection).catch((error: unknown) => log.error({ err: error }, 'could not leave the rooms of a closed connection'));
  }

  @SubscribeMessage('ping')
  ping(): Reply {
    return { type: 'pong' };
  }

  /** `JoinsService` answers `joined` itself: recovered messages and live events must follow it, not precede it. */
  @SubscribeMessage('join_room')
  async joinRoom(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: JoinRoomFrame): Promise<void> {
    await this.joins.join(this.connection(socket), frame.room_id, frame.since, frame.ref);
  }

  @SubscribeMessage('leave_room')
  async leaveRoom(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: LeaveRoomFrame): Promise<Reply> {
    await this.joins.leave(this.connection(socket), frame.room_id);
    return { type: 'left', room_id: frame.room_id };
  }

  @SubscribeMessage('typing')
  async typing(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: TypingFrame): Promise<void> {
    const connection = this.joined(socket, frame.room_id);
    await this.presence.typing(frame.room_id, connection, frame.is_typing ?? true);
  }

  @SubscribeMessage('send_message')
  async sendMessage(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: SendMessageFrame): Promise<Reply> {
    const connection = this.joined(socket, frame.room_id);
    try {
      const { message } = await this.messages.send(connection.userId, frame.room_id, frame, connection.session.isService);
      return { type: 'message_ack', client_msg_id: frame.client_msg_id ?? null, message };
    } catch (error) {
      // The store no longer has the room (flushed or evicted): its connections here are told, as after a reset.
      if (error instanceof RoomLostError) this.joins.roomLost(frame.room_id);
      throw error;
    }
  }

  /** No answer on success: the room's connections, this one included, hear `read` when the position moved. */
  @SubscribeMessage('read')
  async read(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: ReadFrame): Promise<void> {
    const connection = this.joined(socket, frame.room_id);
    await this.rooms.markRead({ userId: connection.userId, isService: false }, frame.room_id, frame.seq, connection.id);
  }

  @SubscribeMessage('refresh_token')
  refreshToken(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: RefreshTokenFrame): Reply {
    const connection = this.connection(socket);
    let session;
    try {
      session = this.tokens.verify(frame.token);
    } catch (error) {
      if (error instanceof AuthError) throw new ChatError('token_invalid', error.message);
      throw error;
    }
    if (session.userId !== connection.userId) {
      throw new ChatError('token_invalid', 'The new token must be for the same user');
    }
    this.connections.refresh(connection, session);
    const expiresAt = session.expiresAt === null ? null : new Date(session.expiresAt).toISOString();
    return { type: 'token_refreshed', expires_at: expiresAt };
  }

  private connection(socket: WebSocket): Connection {
    const connection = this.connections.get(socket);
    if (!connection) throw new ChatError('unavailable', 'The connection is closing');
    return connection;
  }

  private joined(socket: WebSocket, roomId: string): Connection {
    const connection = this.connection(socket);
    if (!connection.rooms.has(roomId)) throw new ChatError('not_joined', 'Join the room first', roomId);
    return connection;
  }
}
