import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  UseGuards,
  UseInterceptors,
  UsePipes,
} from '@nestjs/common';
import type { Response } from 'express';
import { DomainError } from '../core/domain.error.js';
import { ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import type { Member } from '../rooms/room.store.js';
import { RoomsService, type MemberWithReads, type RoomSummary } from '../rooms/rooms.service.js';
import {
  AddMemberBody,
  CreateRoomBody,
  DirectRoomBody,
  MarkedReadDoc,
  MemberDoc,
  MembersPageQuery,
  RoomDoc,
  RoomListDoc,
  RoomsPageQuery,
  TeamEmailRoomBody,
  TeamEmailRoomDoc,
  TeamRoomBody,
} from './dto/rest.dto.js';
import { RememberProfileInterceptor } from './profile-claims.js';
import { ApiChatErrors } from './rest-docs.js';
import { Cursors, MEMBERS_PAGE, ROOMS_PAGE } from './paging.js';
import { LimitPerMinute, RestRateGuard } from './rest-rate.guard.js';
import { RoomIdPipe, UserIdPipe, restPipe } from './validation.js';

/** Rooms a user may create per minute, whichever route makes them. */
const CREATES_ROOMS = LimitPerMinute({
  bucket: 'rooms-created',
  limit: (settings) => settings.quotas.roomsCreatedPerMinute,
  message: 'Too many rooms created; wait a minute',
});

@ApiTags('rooms')
@ApiChatErrors()
@Controller(`${API_PREFIX}/rooms`)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseInterceptors(RememberProfileInterceptor)
@UsePipes(restPipe)
export class RoomsController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly cursors: Cursors,
  ) {}

  /** 201 with the new room; 200 with the existing one for a direct room that already exists. */
  @Post()
  @CREATES_ROOMS
  @ApiOperation({ summary: 'Create a room; the caller becomes its owner and a member (an existing direct room of the pair answers 200)' })
  @ApiCreatedResponse({ type: RoomDoc })
  @ApiOkResponse({ type: RoomDoc, description: 'The direct room of the pair already existed' })
  async create(
    @CurrentSession() caller: Session,
    @Body() body: CreateRoomBody,
    @Res({ passthrough: true }) response: Response,
  ): Promise<RoomSummary> {
    const { room, created } = await this.rooms.create(caller, body);
    response.status(created ? 201 : 200);
    return this.rooms.summary(caller.userId, room);
  }

  /** FocusMate's "new conversation": the pair's direct room, made on first use. */
  @Post('direct')
  @CREATES_ROOMS
  @ApiOperation({ summary: 'The direct room of the caller and `recipient_id`: the existing one, or a new one' })
  @ApiCreatedResponse({ type: RoomDoc })
  async direct(@CurrentSession() caller: Session, @Body() body: DirectRoomBody): Promise<RoomSummary> {
    if (body.recipient_id === caller.userId) throw new DomainError('invalid_input', 'recipient_id must be another user than the caller');
    const { room } = await this.rooms.create(caller, { room_type: 'direct', member_ids: [body.recipient_id] });
    return this.rooms.summary(caller.userId, room);
  }

  @Post('team')
  @CREATES_ROOMS
  @ApiOperation({ summary: "A team room for the main backend's team `team_id`, with the caller as owner" })
  @ApiCreatedResponse({ type: RoomDoc })
  async team(@CurrentSession() caller: Session, @Body() body: TeamRoomBody): Promise<RoomSummary> {
    const { room } = await this.rooms.create(caller, { room_type: 'team', ...body });
    return this.rooms.summary(caller.userId, room);
  }

  @Post('team-email')
  @CREATES_ROOMS
  @ApiOperation({ summary: 'A team room whose members are found by email in the user directory; no e-mail is sent' })
  @ApiCreatedResponse({ type: TeamEmailRoomDoc })
  async teamByEmail(@CurrentSession() caller: Session, @Body() body: TeamEmailRoomBody): Promise<RoomSummary & { emails_not_found: string[] }> {
    const { room, emailsNotFound } = await this.rooms.createFromEmails(caller, body);
    return { ...(await this.rooms.summary(caller.userId, room)), emails_not_found: emailsNotFound };
  }

  /** `{rooms, total, next}`: `next` is the cursor of the following page, null on the last. */
  @Get()
  @ApiOperation({ summary: "The caller's rooms, a page at a time" })
  @ApiOkResponse({ type: RoomListDoc })
  async list(
    @CurrentSession() caller: Session,
    @Query() query: RoomsPageQuery,
  ): Promise<{ rooms: RoomSummary[]; total: number; next: string | null }> {
    const scope = `rooms\n${caller.userId}\n${query.room_type ?? ''}`;
    const offset = this.cursors.decode(scope, query.cursor);
    const page = await this.rooms.list(caller, offset, query.limit ?? ROOMS_PAGE.default, query.room_type);
    return { rooms: page.items, total: page.total, next: this.cursors.next(scope, offset, page.items.length, page.total) };
  }

  @Get(':room_id')
  @ApiOperation({ summary: 'One room (members only)' })
  @ApiOkResponse({ type: RoomDoc })
  get(@CurrentSession() caller: Session, @Param('room_id', RoomIdPipe) roomId: string): Promise<RoomSummary> {
    return this.rooms.get(caller, roomId);
  }

  @Post(':room_id/read')
  @HttpCode(200)
  @ApiOperation({ summary: "Marks the room read up to its latest message (members only); the room hears `read`, the caller's connections `unread`" })
  @ApiOkResponse({ type: MarkedReadDoc })
  async read(@CurrentSession() caller: Session, @Param('room_id', RoomIdPipe) roomId: string): Promise<{ message: string }> {
    await this.rooms.markRead(caller, roomId);
    return { message: 'Marked as read' };
  }

  /** A bare array (FocusMate's shape); the total and the next page's cursor travel as `X-Total-Count` and `X-Next-Cursor`. */
  @Get(':room_id/members')
  @ApiOperation({ summary: "A room's members (members only), a page at a time" })
  @ApiOkResponse({ type: [MemberDoc] })
  @ApiHeader({ name: 'X-Total-Count', description: 'Members in all (response header)', required: false })
  async members(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Query() query: MembersPageQuery,
    @Res({ passthrough: true }) response: Response,
  ): Promise<MemberWithReads[]> {
    const scope = `members\n${roomId}`;
    const offset = this.cursors.decode(scope, query.cursor);
    const page = await this.rooms.members(caller, roomId, offset, query.limit ?? MEMBERS_PAGE.default);
    response.setHeader('X-Total-Count', String(page.total));
    const next = this.cursors.next(scope, offset, page.items.length, page.total);
    if (next !== null) response.setHeader('X-Next-Cursor', next);
    return page.items;
  }

  @Post(':room_id/members')
  @ApiOperation({ summary: 'Add a member (the owner, or a service token)' })
  @ApiCreatedResponse({ type: MemberDoc })
  addMember(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
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
    @Param('room_id', RoomIdPipe) roomId: string,
    @Param('user_id', UserIdPipe) userId: string,
  ): Promise<void> {
    return this.rooms.removeMember(caller, roomId, userId);
  }
}
