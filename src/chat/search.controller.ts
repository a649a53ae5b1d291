import { Controller, Get, Param, Query, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import { MessagesService } from '../messages/messages.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { SearchQuery, SearchResultDoc } from './dto/rest.dto.js';
import type { Message } from './protocol.js';
import { ApiChatErrors } from './rest-docs.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { RoomIdPipe, restPipe } from './validation.js';
import { RememberProfileInterceptor } from './profile-claims.js';

const DEFAULT_RESULTS = 20;

/** Searching a room's messages (PROTOCOL §5). */
@ApiTags('messages')
@ApiChatErrors()
@Controller(`${API_PREFIX}/rooms/:room_id/search`)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseInterceptors(RememberProfileInterceptor)
@UsePipes(restPipe)
export class SearchController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly messages: MessagesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Messages containing `q` (case-insensitive), newest first, deleted ones left out; members only' })
  @ApiOkResponse({ type: SearchResultDoc })
  async search(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Query() query: SearchQuery,
  ): Promise<{ messages: Message[]; total: number; has_more: boolean }> {
    await this.rooms.readable(caller, roomId);
    return this.messages.search(roomId, query.q, query.limit ?? DEFAULT_RESULTS);
  }
}
