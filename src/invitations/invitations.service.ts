import { Inject, Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { DomainError } from '../core/domain.error.js';
import type { Room } from '../rooms/room.store.js';
import { assertTakesMembers, RoomsService, type Caller } from '../rooms/rooms.service.js';
import { INVITATION_STORE, type Invitation, type InvitationStore } from './invitation.store.js';

/** Letters and digits without the look-alikes (0/O, 1/I/L): 31 symbols, so 8 of them are about 39.6 bits. */
export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 8;
const CODE_PATTERN = new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);

/** An invitation as the REST API shows it (PROTOCOL §5, FocusMate's shape). */
export interface InvitationView {
  code: string;
  room_id: string;
  expires_at: string;
  max_uses: number | null;
  current_uses: number;
  is_valid: boolean;
}

export interface NewInvitation {
  expires_hours?: number;
  max_uses?: number;
}

/** A code as typed: case does not matter. Undefined when it cannot be a code at all. */
export function normalizeCode(code: string): string | undefined {
  const upper = code.toUpperCase();
  return CODE_PATTERN.test(upper) ? upper : undefined;
}

/**
 * Invitation codes: a member makes one for their room; anyone with the code
 * joins the room with it while it is valid (not expired, not used up, and
 * its maker still a member: a member who is removed, or leaves, takes their
 * invitations with them), within the room quotas. A use is counted
 * atomically with its check.
 */
@Injectable()
export class InvitationsService {
  constructor(
    @Inject(INVITATION_STORE) private readonly store: InvitationStore,
    private readonly rooms: RoomsService,
  ) {}

  async create(caller: Caller, roomId: string, input: NewInvitation): Promise<InvitationView> {
    // A direct room takes no one new: an invitation to it could never be used.
    assertTakesMembers(await this.rooms.assertMember(caller, roomId));
    const now = Date.now();
    for (;;) {
      const invitation: Invitation = {
        code: newCode(),
        room_id: roomId,
        created_by: caller.userId,
        created_at: now,
        expires_at: now + (input.expires_hours ?? 24) * 3600_000,
        max_uses: input.max_uses ?? null,
        current_uses: 0,
      };
      if (await this.store.create(invitation)) return view(invitation, now);
    }
  }

  /** `not_found` for a code no invitation has (the edge counts those answers). */
  async get(code: string): Promise<InvitationView> {
    const invitation = await this.existing(code);
    return view(invitation, Date.now(), await this.makerIsMember(invitation));
  }

  /**
   * Adds the caller to the invitation's room and answers the room. A member
   * already is answered the room without using the invitation; a join that
   * a quota refuses, or that finds the caller added meanwhile, gives its use back.
   */
  async join(caller: Caller, code: string): Promise<Room> {
    const invitation = await this.existing(code);
    if (await this.rooms.isMember(invitation.room_id, caller.userId)) return this.rooms.get(caller, invitation.room_id);
    if (!(await this.makerIsMember(invitation))) throw new DomainError('invalid_input', 'This invitation is no longer valid: its maker left the room');
    const outcome = await this.store.use(invitation.code, caller.userId, Date.now());
    if (outcome.status === 'unknown') throw unknown();
    if (outcome.status === 'expired') throw new DomainError('invalid_input', 'This invitation has expired');
    if (outcome.status === 'used_up') {
      // Used up by, among others, a concurrent join of this caller's own that got them in.
      if (await this.rooms.isMember(invitation.room_id, caller.userId)) return this.rooms.get(caller, invitation.room_id);
      throw new DomainError('invalid_input', 'This invitation has been used as many times as it may');
    }
    try {
      // Not added (a concurrent join of the caller's own added them first): the one use counted is still theirs.
      await this.rooms.join(invitation.room_id, caller);
    } catch (error) {
      if (outcome.first) await this.store.release(invitation.code, caller.userId);
      throw error;
    }
    return this.rooms.get(caller, invitation.room_id);
  }

  /** Whether the invitation's maker is a member, and has been since they made it: one removed and added again made it in a membership that ended. */
  private async makerIsMember(invitation: Invitation): Promise<boolean> {
    const maker = await this.rooms.member(invitation.room_id, invitation.created_by);
    return maker !== undefined && Date.parse(maker.joined_at) <= invitation.created_at;
  }

  private async existing(code: string): Promise<Invitation> {
    const normalized = normalizeCode(code);
    const invitation = normalized === undefined ? undefined : await this.store.get(normalized);
    if (!invitation) throw unknown();
    return invitation;
  }
}

/** `not_found` for a code no invitation has: the answer a guess gets, which the edge counts. */
export class UnknownInvitationError extends DomainError {
  constructor() {
    super('not_found', 'No such invitation');
  }
}

function unknown(): DomainError {
  return new UnknownInvitationError();
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

function view(invitation: Invitation, now: number, makerIsMember = true): InvitationView {
  const usedUp = invitation.max_uses !== null && invitation.current_uses >= invitation.max_uses;
  return {
    code: invitation.code,
    room_id: invitation.room_id,
    expires_at: new Date(invitation.expires_at).toISOString(),
    max_uses: invitation.max_uses,
    current_uses: invitation.current_uses,
    is_valid: invitation.expires_at > now && !usedUp && makerIsMember,
  };
}
