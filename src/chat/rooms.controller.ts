import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import type { Member, Room } from '../rooms/room.store.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { AddMemberBody, CreateRoomBody } from './dto/rest.dto.js';
import { HttpErrorFilter } from './http-error.filter.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { restPipe } from './validation.js';

@Controller(`${API_PREFIX}/rooms`)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseFilters(HttpErrorFilter)
@UsePipes(restPipe)
export class RoomsController {
  constructor(private readonly rooms: RoomsService) {}

  @Post()
  create(@CurrentSession() caller: Session, @Body() body: CreateRoomBody): Promise<Room> {
    return this.rooms.create(caller, body);
  }

  @Get()
  async list(@CurrentSession() caller: Session): Promise<{ rooms: Room[]; total: number }> {
    const rooms = await this.rooms.list(caller);
    return { rooms, total: rooms.length };
  }

  @Get(':room_id')
  get(@CurrentSession() caller: Session, @Param('room_id') roomId: string): Promise<Room> {
    return this.rooms.get(caller, roomId);
  }

  @Get(':room_id/members')
  members(@CurrentSession() caller: Session, @Param('room_id') roomId: string): Promise<Member[]> {
    return this.rooms.members(caller, roomId);
  }

  @Post(':room_id/members')
  addMember(
    @CurrentSession() caller: Session,
    @Param('room_id') roomId: string,
    @Body() body: AddMemberBody,
  ): Promise<Member> {
    return this.rooms.addMember(caller, roomId, body.user_id);
  }

  @Delete(':room_id/members/:user_id')
  @HttpCode(204)
  removeMember(
    @CurrentSession() caller: Session,
    @Param('room_id') roomId: string,
    @Param('user_id') userId: string,
  ): Promise<void> {
    return this.rooms.removeMember(caller, roomId, userId);
  }
}
