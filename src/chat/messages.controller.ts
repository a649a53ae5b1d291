import { Body, Controller, Param, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import { MessagesService } from '../messages/messages.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { MessageBody } from './dto/frames.dto.js';
import { HttpErrorFilter } from './http-error.filter.js';
import { restPipe } from './validation.js';
import type { Message } from './protocol.js';

@Controller(`${API_PREFIX}/rooms/:room_id/messages`)
@UseGuards(HttpJwtGuard)
@UseFilters(HttpErrorFilter)
@UsePipes(restPipe)
export class MessagesController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly messages: MessagesService,
  ) {}

  /** Sends as over the socket: broadcast to the room, deduplicated by `client_msg_id`. */
  @Post()
  async send(
    @CurrentSession() caller: Session,
    @Param('room_id') roomId: string,
    @Body() body: MessageBody,
  ): Promise<Message> {
    await this.rooms.assertMember(caller, roomId);
    const { message } = await this.messages.send(caller.userId, roomId, body);
    return message;
  }
}
