import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  Res,
  UseGuards,
  UseInterceptors,
  UsePipes,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX, SETTINGS, type Settings } from '../config/settings.js';
import { InvitationsService, UnknownInvitationError, type InvitationView } from '../invitations/invitations.service.js';
import { clientOf } from '../limits/client-address.js';
import { RateCounter } from '../limits/rate-counter.js';
import type { LimitSubject } from '../redis/limit-keys.js';
import type { Room } from '../rooms/room.store.js';
import { CreateInvitationBody, ErrorDoc, InvitationDoc, JoinRoomBody, RoomDoc } from './dto/rest.dto.js';
import { ApiChatErrors } from './rest-docs.js';
import { LimitPerMinute, RestRateGuard, tooManyRequests } from './rest-rate.guard.js';
import { RoomIdPipe, restPipe } from './validation.js';
import { RememberProfileInterceptor } from './profile-claims.js';

/** The rate-counter bucket of unknown invitation codes. */
const GUESSES = 'invitation-guess';
const GUESS_WINDOW_MS = 60_000;
/**
 * A lookup over the limit waits this many times (about 75 ms each) for the
 * user's lookups still under way, which count until answered: most find their
 * code and give their count back (a double click). Guesses that found nothing never do.
 */
const SETTLE_TRIES = 8;

/**
 * Invitation codes (PROTOCOL §5). Codes are 40 random bits, and answers
 * "no such code" are counted per user and per client address
 * (`INVITATION_GUESSES_PER_MINUTE`): past it, every lookup by that user or
 * address is 429 until the minute ends, so guessing learns nothing more.
 */
@ApiTags('invitations')
@ApiChatErrors()
@ApiTooManyRequestsResponse({
  type: ErrorDoc,
  description: 'Over REST_RATE_LIMIT_PER_MINUTE, too many unknown codes (INVITATION_GUESSES_PER_MINUTE), or too many made (INVITATIONS_CREATED_PER_MINUTE)',
})
@Controller(API_PREFIX)
@UseGuards(RestRateGuard, HttpJwtGuard)
@UseInterceptors(RememberProfileInterceptor)
@UsePipes(restPipe)
export class InvitationsController {
  constructor(
    private readonly invitations: InvitationsService,
    private readonly counter: RateCounter,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  @Post('rooms/:room_id/invitation')
  @ApiOperation({ summary: 'Make an invitation code to the room (members only)' })
  @ApiCreatedResponse({ type: InvitationDoc })
  // Each code is kept for up to two weeks: what one user may make is bounded by the minute.
  @LimitPerMinute({
    bucket: 'invitations-created',
    limit: (settings) => settings.invitations.createdPerMinute,
    message: 'Too many invitations made; wait a minute',
  })
  create(
    @CurrentSession() caller: Session,
    @Param('room_id', RoomIdPipe) roomId: string,
    @Body() body: CreateInvitationBody,
  ): Promise<InvitationView> {
    return this.invitations.create(caller, roomId, body);
  }

  @Get('invitations/:code')
  @ApiOperation({ summary: 'An invitation by its code (404 when there is none)' })
  @ApiOkResponse({ type: InvitationDoc })
  get(
    @CurrentSession() caller: Session,
    @Param('code') code: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<InvitationView> {
    return this.guessing(caller, request, response, () => this.invitations.get(code));
  }

  @Post('rooms/join')
  @HttpCode(200)
  @ApiOperation({ summary: 'Join the room of an invitation code; 400 when it has expired or is used up' })
  @ApiOkResponse({ type: RoomDoc })
  join(
    @CurrentSession() caller: Session,
    @Body() body: JoinRoomBody,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Room> {
    return this.guessing(caller, request, response, () => this.invitations.join(caller, body.invitation_code));
  }

  /**
   * Runs a lookup by code unless the caller has had too many "no such code"
   * answers. A user's lookups are counted as guesses before they run, and
   * given back unless the code was unknown: counted after, lookups sent at
   * once would all pass the check (`SETTLE_TRIES`). An address is shared (an
   * office, a NAT) by people whose lookups at once are no guessing: it is
   * checked before and counted after.
   */
  private async guessing<T>(caller: Session, request: Request, response: Response, lookup: () => Promise<T>): Promise<T> {
    const limit = this.settings.invitations.guessesPerMinute;
    const user: LimitSubject = { user: caller.userId };
    const address: LimitSubject = { address: clientOf(request.ip) };
    const refuse = (retryAfterMs: number) => tooManyRequests(response, retryAfterMs, 'Too many unknown invitation codes; wait a minute');
    const byAddress = await this.counter.peek(GUESSES, address, limit);
    if (!byAddress.allowed) throw refuse(byAddress.retryAfterMs);
    let hit = await this.counter.hit(GUESSES, user, limit, GUESS_WINDOW_MS);
    for (let tries = 0; !hit.allowed && tries < SETTLE_TRIES; tries++) {
      await this.counter.release(GUESSES, user, hit);
      await sleep(50 + Math.random() * 50);
      hit = await this.counter.hit(GUESSES, user, limit, GUESS_WINDOW_MS);
    }
    if (!hit.allowed) {
      await this.counter.release(GUESSES, user, hit);
      throw refuse(hit.retryAfterMs);
    }
    let unknown = false;
    try {
      return await lookup();
    } catch (error) {
      unknown = error instanceof UnknownInvitationError;
      if (unknown) await this.counter.hit(GUESSES, address, limit, GUESS_WINDOW_MS);
      throw error;
    } finally {
      if (!unknown) await this.counter.release(GUESSES, user, hit);
    }
  }
}
