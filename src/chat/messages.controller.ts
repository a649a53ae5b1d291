import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { ApiBody, ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import { MessagesService } from '../messages/messages.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { MessageBody } from './dto/frames.dto.js';
import type { Reaction } from '../messages/reactions.js';
import {
  EditMessageBody,
  ErrorDoc,
  HistoryPageDoc,
  HistoryQuery,
  MessageDoc,
  ReactionQuery,
  ReactionsDoc,
  SendMessageBodyDoc,
} from './dto/rest.dto.js';
import { ApiChatErrors } from './rest-docs.js';
import { RestRateGuard } from './rest-rate.guard.js';
import type { Message } from './protocol.js';
import { MessageIdPipe, RoomIdPipe, restPipe } from './validation.js';
import { RememberProfileInterceptor } from './profile-claims.js';

const DEFAULT_PAGE = 50;

/** A room's messages over HTTP (PROTOCOL §5), with FocusMate's shapes. */
@ApiTags('messages')
@ApiChatErrors()
@Controller(`${API_PREFIX}/rooms/:room_id/messages`)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseInterceptors(RememberProfileInterceptor)
@UsePipes(restPipe)
export class MessagesController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly messages: MessagesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The newest `limit` messages older than `before_message_id` (or the newest overall), oldest first' })
  @ApiOkResponse({ type: HistoryPageDoc })
  async history(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Query() query: HistoryQuery,
  ): Promise<{ messages: Message[]; total: number; has_more: boolean }> {
    await this.rooms.readable(caller, roomId);
    return this.messages.history(roomId, query.limit ?? DEFAULT_PAGE, query.before_message_id);
  }

  /** Sends as over the socket: broadcast to the room, deduplicated by `client_msg_id`. */
  @Post()
  @ApiOperation({ summary: 'Send a message; broadcast to the room as over the socket' })
  @ApiBody({ type: SendMessageBodyDoc })
  @ApiCreatedResponse({ type: MessageDoc })
  async send(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Body() body: MessageBody,
  ): Promise<Message> {
    await this.rooms.assertMember(caller, roomId);
    const { message } = await this.messages.send(caller.userId, roomId, body, caller.isService);
    return message;
  }

  @Patch(':message_id')
  @ApiOperation({ summary: 'Edit a message (its sender only); message_updated is broadcast' })
  @ApiOkResponse({ type: MessageDoc })
  async edit(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Param('message_id', MessageIdPipe) messageId: string,
    @Body() body: EditMessageBody,
  ): Promise<Message> {
    await this.rooms.assertMember(caller, roomId);
    return this.messages.edit(caller.userId, roomId, messageId, body.content);
  }

  @Delete(':message_id')
  @ApiOperation({ summary: 'Delete a message (its sender only): it stays as a tombstone; message_deleted is broadcast' })
  @ApiOkResponse({ type: MessageDoc })
  async delete(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Param('message_id', MessageIdPipe) messageId: string,
  ): Promise<Message> {
    await this.rooms.assertMember(caller, roomId);
    return this.messages.delete(caller.userId, roomId, messageId);
  }

  @Post(':message_id/react')
  @HttpCode(200)
  @ApiOperation({ summary: "Add the caller's reaction (adding twice changes nothing); message_updated is broadcast with the whole message" })
  @ApiOkResponse({ type: ReactionsDoc })
  @ApiConflictResponse({ type: ErrorDoc, description: 'The message already has 50 different reactions' })
  addReaction(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Param('message_id', MessageIdPipe) messageId: string,
    @Query() query: ReactionQuery,
  ): Promise<{ message_id: string; reactions: Reaction[] }> {
    return this.react(caller, roomId, messageId, query.emoji, true);
  }

  @Delete(':message_id/react')
  @ApiOperation({ summary: "Take the caller's reaction away; message_updated is broadcast with the whole message" })
  @ApiOkResponse({ type: ReactionsDoc })
  removeReaction(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Param('message_id', MessageIdPipe) messageId: string,
    @Query() query: ReactionQuery,
  ): Promise<{ message_id: string; reactions: Reaction[] }> {
    return this.react(caller, roomId, messageId, query.emoji, false);
  }

  private async react(caller: Session, roomId: string, messageId: string, emoji: string, add: boolean) {
    await this.rooms.assertMember(caller, roomId);
    const reactions = await this.messages.react(caller.userId, roomId, messageId, emoji, add);
    return { message_id: messageId, reactions };
  }
}
