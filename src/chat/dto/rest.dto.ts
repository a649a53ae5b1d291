import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsClientId, MAX_ID_LENGTH } from './frames.dto.js';
import { MEMBERS_PAGE, ROOMS_PAGE } from '../paging.js';

/** REST bodies and queries (PROTOCOL §5). Unknown fields are stripped. */
export class CreateRoomBody {
  @IsIn(['direct', 'team'])
  room_type!: 'direct' | 'team';

  @IsOptional() @IsString() @MaxLength(200)
  room_name?: string;

  @IsOptional() @IsString() @MaxLength(2000)
  description?: string;

  @IsOptional() @IsArray() @ArrayMaxSize(1000)
  @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(MAX_ID_LENGTH, { each: true })
  member_ids?: string[];
}

export class AddMemberBody {
  @IsString() @IsNotEmpty() @MaxLength(MAX_ID_LENGTH)
  user_id!: string;
}

export class HistoryQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;

  @IsOptional() @IsString() @IsClientId()
  before_message_id?: string;
}

/** An opaque cursor as `next` handed it out. */
const IsCursor = () => Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'cursor is not valid' });

export class RoomsPageQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(ROOMS_PAGE.max)
  limit?: number;

  @IsOptional() @IsString() @IsCursor()
  cursor?: string;
}

export class MembersPageQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MEMBERS_PAGE.max)
  limit?: number;

  @IsOptional() @IsString() @IsCursor()
  cursor?: string;
}

export class EditMessageBody {
  @IsString() @IsNotEmpty()
  content!: string;
}
