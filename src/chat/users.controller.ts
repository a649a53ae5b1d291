import { Body, Controller, ForbiddenException, Get, HttpCode, Param, Put, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX } from '../config/settings.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { UserProfile } from '../users/user-directory.store.js';
import { UsersService } from '../users/users.service.js';
import { ProfileBody, ProfileDoc, ProfilesBody, ProfilesUpdatedDoc, UnreadCountDoc } from './dto/rest.dto.js';
import { RememberProfileInterceptor } from './profile-claims.js';
import { ApiChatErrors } from './rest-docs.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { UserIdPipe, restPipe } from './validation.js';

/** The user directory (fed by the main backend with a service token) and a user's unread total. */
@ApiTags('users')
@ApiChatErrors()
@Controller(API_PREFIX)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseInterceptors(RememberProfileInterceptor)
@UsePipes(restPipe)
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly rooms: RoomsService,
  ) {}

  @Get('unread-count')
  @ApiOperation({ summary: "Unread messages over all the caller's rooms" })
  @ApiOkResponse({ type: UnreadCountDoc })
  async unreadCount(@CurrentSession() caller: Session): Promise<{ count: number }> {
    return { count: await this.rooms.unreadTotal(caller.userId) };
  }

  @Put('users/:user_id')
  @HttpCode(200)
  @ApiOperation({ summary: "Stores a user's profile (service tokens only); a field left out keeps its value, null clears it" })
  @ApiOkResponse({ type: ProfileDoc })
  async put(@CurrentSession() caller: Session, @Param('user_id', UserIdPipe) userId: string, @Body() body: ProfileBody): Promise<UserProfile> {
    this.assertService(caller);
    await this.users.put([{ ...body, user_id: userId }]);
    const [profile] = await this.users.profiles([userId]);
    return profile;
  }

  @Put('users')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stores up to 500 profiles at once (service tokens only)' })
  @ApiOkResponse({ type: ProfilesUpdatedDoc })
  async putMany(@CurrentSession() caller: Session, @Body() body: ProfilesBody): Promise<{ updated: number }> {
    this.assertService(caller);
    await this.users.put(body.users.map((entry) => ({ ...entry })));
    return { updated: body.users.length };
  }

  private assertService(caller: Session): void {
    if (!caller.isService) throw new ForbiddenException('Only a service token may write the user directory');
  }
}
