import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsClientId, MAX_ID_LENGTH } from './frames.dto.js';
import { MEMBERS_PAGE, ROOMS_PAGE } from '../paging.js';

/** REST bodies and queries (PROTOCOL §5). Unknown fields are stripped. */
export class CreateRoomBody {
  @ApiProperty({ enum: ['direct', 'team'] })
  @IsIn(['direct', 'team'])
  room_type!: 'direct' | 'team';

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional() @IsString() @MaxLength(200)
  room_name?: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional() @IsString() @MaxLength(2000)
  description?: string;

  @ApiPropertyOptional({ type: [String], maxItems: 1000, description: 'Members besides the caller, who becomes the owner' })
  @IsOptional() @IsArray() @ArrayMaxSize(1000)
  @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(MAX_ID_LENGTH, { each: true })
  member_ids?: string[];
}

export class AddMemberBody {
  @ApiProperty({ maxLength: MAX_ID_LENGTH })
  @IsString() @IsNotEmpty() @MaxLength(MAX_ID_LENGTH)
  user_id!: string;
}

export class HistoryQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50, type: 'integer' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Page backwards: messages older than this one', maxLength: MAX_ID_LENGTH })
  @IsOptional() @IsString() @IsClientId()
  before_message_id?: string;
}

/** An opaque cursor as `next` handed it out. */
const IsCursor = () => Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'cursor is not valid' });

export class RoomsPageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: ROOMS_PAGE.max, default: ROOMS_PAGE.default })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(ROOMS_PAGE.max)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` cursor of the previous page' })
  @IsOptional() @IsString() @IsCursor()
  cursor?: string;
}

export class MembersPageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MEMBERS_PAGE.max, default: MEMBERS_PAGE.default })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MEMBERS_PAGE.max)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` cursor of the previous page' })
  @IsOptional() @IsString() @IsCursor()
  cursor?: string;
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

  @ApiPropertyOptional({ enum: ['text'], default: 'text' })
  message_type?: string;

  @ApiPropertyOptional({ maxLength: MAX_ID_LENGTH, description: 'Retrying with the same id returns the original message' })
  client_msg_id?: string;

  @ApiPropertyOptional({ maxLength: MAX_ID_LENGTH })
  parent_message_id?: string;
}

export class RoomDoc {
  @ApiProperty() room_id!: string;
  @ApiProperty({ enum: ['direct', 'team'] }) room_type!: string;
  @ApiProperty({ type: String, nullable: true }) room_name!: string | null;
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty() owner_id!: string;
  @ApiProperty({ type: [String] }) member_ids!: string[];
  @ApiProperty() is_active!: boolean;
  @ApiProperty() is_archived!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) last_message_at!: string | null;
}

export class RoomListDoc {
  @ApiProperty({ type: [RoomDoc] }) rooms!: RoomDoc[];
  @ApiProperty() total!: number;
  @ApiProperty({ type: String, nullable: true, description: 'The cursor of the following page; null on the last' }) next!: string | null;
}

export class MemberDoc {
  @ApiProperty() user_id!: string;
  @ApiProperty({ enum: ['owner', 'member'] }) role!: string;
  @ApiProperty({ format: 'date-time' }) joined_at!: string;
}

/** PROTOCOL §3. */
export class MessageDoc {
  @ApiProperty() message_id!: string;
  @ApiProperty() room_id!: string;
  @ApiProperty() sender_id!: string;
  @ApiPropertyOptional({ description: 'Position in the room: 1, 2, 3 … without gaps' }) seq?: number;
  @ApiProperty({ example: 'text' }) message_type!: string;
  @ApiProperty({ description: 'Empty once deleted' }) content!: string;
  @ApiProperty({ type: 'array', items: {}, nullable: true }) attachments!: unknown[] | null;
  @ApiProperty({ type: String, nullable: true }) parent_message_id!: string | null;
  @ApiProperty() thread_count!: number;
  @ApiProperty({ type: 'array', items: {} }) reactions!: unknown[];
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

/** Every REST error (PROTOCOL §5). */
export class ErrorDoc {
  @ApiProperty({ example: 403 }) statusCode!: number;
  @ApiProperty({ example: 'Forbidden' }) error!: string;
  @ApiProperty({ example: 'You are not a member of this room', description: 'For a 400, names the bad field' })
  message!: string;
}
