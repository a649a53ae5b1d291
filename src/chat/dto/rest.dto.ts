import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNotIn,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  Validate,
  ValidateIf,
  ValidateNested,
  ValidatorConstraint,
  type ValidationOptions,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { MAX_ATTACHMENTS, MAX_ATTACHMENT_LENGTH, MAX_EMOJI_LENGTH, MESSAGE_TYPES } from '../../core/message.js';
import { isEmoji } from '../../messages/reactions.js';
import { ROOM_TYPES, type RoomType } from '../../rooms/room.store.js';
import { DOT_SEGMENTS, MAX_USER_ID_LENGTH } from '../../core/ids.js';
import { IsClientId, MAX_ID_LENGTH, MaxStringLength } from './frames.dto.js';
import { MEMBERS_PAGE, ROOMS_PAGE } from '../paging.js';

@ValidatorConstraint({ name: 'isEmoji' })
class IsEmojiConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isEmoji(value);
  }
  defaultMessage(): string {
    return 'emoji must be an emoji or a :shortcode:';
  }
}

/** A user id a path can name: not `.` or `..` (see `DOT_SEGMENTS`). */
const IsNotDotSegment = (options: ValidationOptions = {}) => IsNotIn(DOT_SEGMENTS, { message: '$property must not be . or ..', ...options });

/** REST bodies and queries (PROTOCOL §5). Unknown fields are stripped. */
export class CreateRoomBody {
  @ApiProperty({ enum: ROOM_TYPES })
  @IsIn(ROOM_TYPES)
  room_type!: RoomType;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional() @IsString() @MaxStringLength(200)
  room_name?: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional() @IsString() @MaxStringLength(2000)
  description?: string;

  @ApiPropertyOptional({ type: [String], maxItems: 1000, description: 'Members besides the caller, who becomes the owner' })
  @IsOptional() @IsArray() @ArrayMaxSize(1000)
  @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxStringLength(MAX_USER_ID_LENGTH, { each: true }) @IsNotDotSegment({ each: true })
  member_ids?: string[];
}

export class AddMemberBody {
  @ApiProperty({ maxLength: MAX_USER_ID_LENGTH })
  @IsString() @IsNotEmpty() @MaxStringLength(MAX_USER_ID_LENGTH) @IsNotDotSegment()
  user_id!: string;
}

/**
 * An integer query parameter: decimal digits become a number, anything else
 * stays as written and is refused (`0x2`, `1e0` and ` 1` are not counts,
 * though `Number` reads them as such).
 */
const QueryInt = () =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value)),
    IsInt(),
  );

export class HistoryQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50, type: 'integer' })
  @IsOptional() @QueryInt() @Min(1) @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Page backwards: messages older than this one', pattern: '^[A-Za-z0-9._:-]{1,128}$' })
  @IsOptional() @IsString() @IsClientId()
  before_message_id?: string;
}

/** An opaque cursor as `next` handed it out. */
const IsCursor = () => Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'cursor is not valid' });

export class RoomsPageQuery {
  @ApiPropertyOptional({ enum: ROOM_TYPES, description: 'Only rooms of this type' })
  @IsOptional() @IsIn(ROOM_TYPES)
  room_type?: RoomType;

  @ApiPropertyOptional({ minimum: 1, maximum: ROOMS_PAGE.max, default: ROOMS_PAGE.default, type: 'integer' })
  @IsOptional() @QueryInt() @Min(1) @Max(ROOMS_PAGE.max)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` cursor of the previous page' })
  @IsOptional() @IsString() @IsCursor()
  cursor?: string;
}

export class MembersPageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MEMBERS_PAGE.max, default: MEMBERS_PAGE.default, type: 'integer' })
  @IsOptional() @QueryInt() @Min(1) @Max(MEMBERS_PAGE.max)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` cursor of the previous page' })
  @IsOptional() @IsString() @IsCursor()
  cursor?: string;
}

/** Longest email accepted (RFC 5321's path limit). */
const MAX_EMAIL_LENGTH = 320;
/** Longest username or picture URL accepted. */
const MAX_PROFILE_FIELD_LENGTH = 2048;

export class DirectRoomBody {
  @ApiProperty({ maxLength: MAX_USER_ID_LENGTH, description: 'The other user' })
  @IsString() @IsNotEmpty() @MaxStringLength(MAX_USER_ID_LENGTH) @IsNotDotSegment()
  recipient_id!: string;
}

export class TeamRoomBody {
  @ApiProperty({ maxLength: MAX_ID_LENGTH, description: "The main backend's team" })
  @IsString() @IsNotEmpty() @MaxStringLength(MAX_ID_LENGTH)
  team_id!: string;

  @ApiProperty({ maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxStringLength(200)
  room_name!: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional() @IsString() @MaxStringLength(2000)
  description?: string;
}

export class TeamEmailRoomBody {
  @ApiProperty({ maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxStringLength(200)
  room_name!: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional() @IsString() @MaxStringLength(2000)
  description?: string;

  @ApiProperty({ type: [String], minItems: 1, maxItems: 50, description: 'Found in the user directory; those not found are answered' })
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(50)
  @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxStringLength(MAX_EMAIL_LENGTH, { each: true })
  member_emails!: string[];

  @ApiPropertyOptional({ description: 'Accepted for compatibility; this service sends no e-mail' })
  @IsOptional() @IsBoolean()
  send_invitations?: boolean;
}

export class ProfileBody {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: MAX_PROFILE_FIELD_LENGTH })
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsString() @MaxStringLength(MAX_PROFILE_FIELD_LENGTH)
  username?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: MAX_EMAIL_LENGTH })
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsString() @MaxStringLength(MAX_EMAIL_LENGTH)
  email?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: MAX_PROFILE_FIELD_LENGTH })
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsString() @MaxStringLength(MAX_PROFILE_FIELD_LENGTH)
  profile_image?: string | null;
}

export class ProfileEntry extends ProfileBody {
  @ApiProperty({ maxLength: MAX_USER_ID_LENGTH })
  @IsString() @IsNotEmpty() @MaxStringLength(MAX_USER_ID_LENGTH) @IsNotDotSegment()
  user_id!: string;
}

/** Profiles in one call, at most this many. */
export const MAX_PROFILES_PER_CALL = 500;

export class ProfilesBody {
  @ApiProperty({ type: [ProfileEntry], minItems: 1, maxItems: MAX_PROFILES_PER_CALL })
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(MAX_PROFILES_PER_CALL) @ValidateNested({ each: true }) @Type(() => ProfileEntry)
  users!: ProfileEntry[];
}

export class ReactionQuery {
  @ApiProperty({ description: `An emoji (Unicode emoji code points, not plain ASCII) or a :shortcode:, at most ${MAX_EMOJI_LENGTH} UTF-16 units`, example: '👍' })
  @IsString() @MaxStringLength(MAX_EMOJI_LENGTH)
  @Validate(IsEmojiConstraint)
  emoji!: string;
}

export const SEARCH_QUERY_MAX_LENGTH = 200;

export class SearchQuery {
  @ApiProperty({ description: 'Text to find in message content, case-insensitive', maxLength: SEARCH_QUERY_MAX_LENGTH })
  @IsString() @IsNotEmpty() @MaxStringLength(SEARCH_QUERY_MAX_LENGTH)
  q!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20, type: 'integer' })
  @IsOptional() @QueryInt() @Min(1) @Max(100)
  limit?: number;
}

export class CreateInvitationBody {
  @ApiPropertyOptional({ minimum: 1, maximum: 168, default: 24, type: 'integer' })
  @IsOptional() @IsInt() @Min(1) @Max(168)
  expires_hours?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, type: 'integer', description: 'Absent: any number of uses until it expires' })
  @IsOptional() @IsInt() @Min(1) @Max(100)
  max_uses?: number;
}

export class JoinRoomBody {
  @ApiProperty({ description: '8 letters and digits, any case', example: 'K7QP2XWM' })
  @IsString() @IsNotEmpty() @MaxStringLength(64)
  invitation_code!: string;
}

export class EditMessageBody {
  @ApiProperty({ description: 'The new content (length limited by MAX_MESSAGE_LENGTH)' })
  @IsString() @IsNotEmpty()
  content!: string;
}

// Shapes of the answers, for the OpenAPI document only (the services return plain objects).

export class SendMessageBodyDoc {
  @ApiProperty({ description: 'Length limited by MAX_MESSAGE_LENGTH (4000 by default)' })
  content!: string;

  @ApiPropertyOptional({ enum: [...MESSAGE_TYPES], default: 'text', description: '`system`: service tokens only' })
  message_type?: string;

  @ApiPropertyOptional({ type: [String], maxItems: MAX_ATTACHMENTS, description: `URLs of files (at most ${MAX_ATTACHMENT_LENGTH} characters each)` })
  attachments?: string[];

  @ApiPropertyOptional({ maxLength: MAX_ID_LENGTH, description: 'Retrying with the same id returns the original message' })
  client_msg_id?: string;

  @ApiPropertyOptional({ maxLength: MAX_ID_LENGTH })
  parent_message_id?: string;
}

export class RoomDoc {
  @ApiProperty() room_id!: string;
  @ApiProperty({ enum: ROOM_TYPES }) room_type!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) team_id?: string | null;
  @ApiProperty({ type: String, nullable: true }) room_name!: string | null;
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty() owner_id!: string;
  @ApiProperty({ type: [String] }) member_ids!: string[];
  @ApiProperty() is_active!: boolean;
  @ApiProperty() is_archived!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) last_message_at!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'A preview: at most 100 characters; a deleted message reads "This message was deleted"' })
  last_message_content!: string | null;
  @ApiProperty({ type: String, nullable: true }) last_message_sender_id!: string | null;
  @ApiProperty({ description: "The caller's unread messages in the room" }) unread_count!: number;
  @ApiPropertyOptional({ description: 'Direct rooms: the other user' }) partner_id?: string;
  @ApiPropertyOptional({ description: 'Direct rooms: from the user directory, else the id' }) partner_username?: string;
  @ApiPropertyOptional({ type: String, nullable: true }) partner_email?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) partner_profile_image?: string | null;
  @ApiPropertyOptional({ description: 'Direct rooms: the other user holds a connection now' }) partner_is_online?: boolean;
}

export class TeamEmailRoomDoc extends RoomDoc {
  @ApiProperty({ type: [String], description: 'Emails nobody in the user directory has; not added' }) emails_not_found!: string[];
}

export class UnreadCountDoc {
  @ApiProperty({ description: "Unread messages over all the caller's rooms" }) count!: number;
}

export class MarkedReadDoc {
  @ApiProperty({ example: 'Marked as read' }) message!: string;
}

export class ProfileDoc {
  @ApiProperty() user_id!: string;
  @ApiProperty({ type: String, nullable: true }) username!: string | null;
  @ApiProperty({ type: String, nullable: true }) email!: string | null;
  @ApiProperty({ type: String, nullable: true }) profile_image!: string | null;
}

export class ProfilesUpdatedDoc {
  @ApiProperty() updated!: number;
}

export class RoomListDoc {
  @ApiProperty({ type: [RoomDoc] }) rooms!: RoomDoc[];
  @ApiProperty() total!: number;
  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the following page; null on the last' }) next!: string | null;
}

export class MemberDoc {
  @ApiProperty() user_id!: string;
  @ApiProperty({ enum: ['owner', 'member'] }) role!: string;
  @ApiProperty({ format: 'date-time' }) joined_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the member last marked the room read' }) last_read_at!: string | null;
  @ApiProperty() unread_count!: number;
}

export class ReactionDoc {
  @ApiProperty({ example: '👍' }) emoji!: string;
  @ApiProperty({ type: [String], description: 'Who reacted, in the order they did' }) users!: string[];
  @ApiProperty() count!: number;
}

export class ReactionsDoc {
  @ApiProperty() message_id!: string;
  @ApiProperty({ type: [ReactionDoc] }) reactions!: ReactionDoc[];
}

/** PROTOCOL §3. */
export class MessageDoc {
  @ApiProperty() message_id!: string;
  @ApiProperty() room_id!: string;
  @ApiProperty() sender_id!: string;
  @ApiPropertyOptional({ description: 'Position in the room: 1, 2, 3 … without gaps' }) seq?: number;
  @ApiProperty({ example: 'text' }) message_type!: string;
  @ApiProperty({ description: 'Empty once deleted' }) content!: string;
  @ApiProperty({ type: [String], nullable: true, description: 'URLs of files' }) attachments!: string[] | null;
  @ApiProperty({ type: String, nullable: true }) parent_message_id!: string | null;
  @ApiProperty() thread_count!: number;
  @ApiProperty({ type: () => [ReactionDoc] }) reactions!: ReactionDoc[];
  @ApiProperty() is_edited!: boolean;
  @ApiProperty() is_deleted!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ type: String, nullable: true }) client_msg_id!: string | null;
}

export class HistoryPageDoc {
  @ApiProperty({ type: [MessageDoc], description: 'Oldest first' }) messages!: MessageDoc[];
  @ApiProperty({ description: "The room's retained history" }) total!: number;
  @ApiProperty() has_more!: boolean;
}

export class SearchResultDoc {
  @ApiProperty({ type: [MessageDoc], description: 'Newest first' }) messages!: MessageDoc[];
  @ApiProperty({ description: 'Matches among the messages searched' }) total!: number;
  @ApiProperty({ description: 'More matched than returned, or older history was not searched' }) has_more!: boolean;
}

export class InvitationDoc {
  @ApiProperty({ example: 'K7QP2XWM' }) code!: string;
  @ApiProperty() room_id!: string;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
  @ApiProperty({ type: Number, nullable: true }) max_uses!: number | null;
  @ApiProperty() current_uses!: number;
  @ApiProperty({ description: 'Not expired and not used up' }) is_valid!: boolean;
}

export class UploadedFileDoc {
  @ApiProperty({ example: 'rooms/<room id>/<file id>.png', description: 'Where the file is stored' }) path!: string;
  @ApiProperty({ description: 'A signed URL serving the file until FILE_URL_TTL_S has passed' }) url!: string;
}

export class UploadDoc {
  @ApiProperty() uploaded!: number;
  @ApiProperty({ type: [UploadedFileDoc] }) files!: UploadedFileDoc[];
}

/** Every REST error (PROTOCOL §5). */
export class ErrorDoc {
  @ApiProperty({ example: 403 }) statusCode!: number;
  @ApiProperty({ example: 'Forbidden' }) error!: string;
  @ApiProperty({ example: 'You are not a member of this room', description: 'For a 400, names the bad field' })
  message!: string;
}
