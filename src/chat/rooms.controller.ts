import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import type { Member, Room } from '../rooms/room.store.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { AddMemberBody, CreateRoomBody, MemberDoc, RoomDoc, RoomListDoc } from './dto/rest.dto.js';
import { HttpErrorFilter } from './http-error.filter.js';
import { ApiChatErrors } from './rest-docs.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { restPipe } from './validation.js';

@ApiTags('rooms')
@ApiChatErrors()
@Controller(`${API_PREFIX}/rooms`)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseFilters(HttpErrorFilter)
@UsePipes(restPipe)
export class RoomsController {
  constructor(private readonly rooms: RoomsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a room; the caller becomes its owner and a member' })
  @ApiCreatedResponse({ type: RoomDoc })
  create(@CurrentSession() caller: Session, @Body() body: CreateRoomBody): Promise<Room> {
    return this.rooms.create(caller, body);
  }

  @Get()
  @ApiOperation({ summary: "The caller's rooms" })
  @ApiOkResponse({ type: RoomListDoc })
  async list(@CurrentSession() caller: Session): Promise<{ rooms: Room[]; total: number }> {
    const rooms = await this.rooms.list(caller);
    return { rooms, total: rooms.length };
  }

  @Get(':room_id')
  @ApiOperation({ summary: 'One room (members only)' })
  @ApiOkResponse({ type: RoomDoc })
  get(@CurrentSession() caller: Session, @Param('room_id') roomId: string): Promise<Room> {
    return this.rooms.get(caller, roomId);
  }

  @Get(':room_id/members')
  @ApiOperation({ summary: "A room's members (members only)" })
  @ApiOkResponse({ type: [MemberDoc] })
  members(@CurrentSession() caller: Session, @Param('room_id') roomId: string): Promise<Member[]> {
    return this.rooms.members(caller, roomId);
  }

  @Post(':room_id/members')
  @ApiOperation({ summary: 'Add a member (the owner, or a service token)' })
  @ApiCreatedResponse({ type: MemberDoc })
  addMember(
    @CurrentSession() caller: Session,
    @Param('room_id') roomId: string,
    @Body() body: AddMemberBody,
  ): Promise<Member> {
    return this.rooms.addMember(caller, roomId, body.user_id);
  }

  @Delete(':room_id/members/:user_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a member (the owner, the member themself, or a service token); their connections leave the room' })
  @ApiNoContentResponse({ description: 'Removed' })
  removeMember(
    @CurrentSession() caller: Session,
    @Param('room_id') roomId: string,
    @Param('user_id') userId: string,
  ): Promise<void> {
    return this.rooms.removeMember(caller, roomId, userId);
  }
}
