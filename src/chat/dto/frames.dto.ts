import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  buildMessage,
  type ValidationOptions,
} from 'class-validator';
import { CLIENT_ID_PATTERN, MAX_ID_LENGTH, ROOM_ID_PATTERN } from '../../core/ids.js';
import { MAX_ATTACHMENTS, MAX_ATTACHMENT_LENGTH, MESSAGE_TYPES } from '../../core/message.js';

// Client frames (PROTOCOL §2). `type` and `ref` are checked by the adapter
// before a frame reaches its handler; unknown fields are ignored so that
// newer clients keep working.

export { MAX_ID_LENGTH };

/**
 * At most `max` characters as PROTOCOL counts them, a string's `length`
 * (UTF-16 code units), like every other length this service checks.
 * class-validator's `MaxLength` counts a surrogate pair and a variation
 * selector as nothing, so it let through three times as many.
 */
export const MaxStringLength = (max: number, options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'maxStringLength',
      constraints: [max],
      validator: {
        validate: (value: unknown) => typeof value === 'string' && value.length <= max,
        defaultMessage: buildMessage((each) => `${each}$property must be shorter than or equal to $constraint1 characters`, options),
      },
    },
    options,
  );

/** `room_id` of frames and REST bodies: a room id this service made (a UUID). */
export const IsRoomId = () => Matches(ROOM_ID_PATTERN, { message: 'room_id must be a room id (a UUID)' });

/** Ids a client chooses: 1–128 of `A–Z a–z 0–9 . _ : -` (PROTOCOL §2). */
export const IsClientId = () =>
  Matches(CLIENT_ID_PATTERN, { message: '$property must be 1–128 of A–Z a–z 0–9 . _ : -' });

export class RoomFrame {
  @IsString() @IsRoomId()
  room_id!: string;

  ref?: string;
}

export class Since {
  @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER)
  seq!: number;

  @IsString() @IsNotEmpty() @MaxStringLength(MAX_ID_LENGTH)
  epoch!: string;
}

export class JoinRoomFrame extends RoomFrame {
  @IsOptional() @IsObject() @ValidateNested() @Type(() => Since)
  since?: Since;
}

export class LeaveRoomFrame extends RoomFrame {}

export class TypingFrame extends RoomFrame {
  @IsOptional() @IsBoolean()
  is_typing?: boolean;
}

/** The body of a new message, over the socket or REST. Its length limit is a setting, checked by the service. */
export class MessageBody {
  @IsString() @IsNotEmpty()
  content!: string;

  /** `system` is refused unless the sender holds a service token. */
  @IsOptional() @IsIn(MESSAGE_TYPES)
  message_type?: string;

  /** URLs of files, e.g. those `POST /rooms/:id/upload` answered. */
  @IsOptional() @IsArray() @ArrayMaxSize(MAX_ATTACHMENTS)
  @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxStringLength(MAX_ATTACHMENT_LENGTH, { each: true })
  attachments?: string[];

  @IsOptional() @IsString() @IsClientId()
  client_msg_id?: string;

  @IsOptional() @IsString() @IsClientId()
  parent_message_id?: string;
}

export class SendMessageFrame extends MessageBody {
  @IsString() @IsRoomId()
  room_id!: string;

  ref?: string;
}

/** Marks the room read up to `seq` (never backwards, never past the room's latest). */
export class ReadFrame extends RoomFrame {
  @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER)
  seq!: number;
}

export class RefreshTokenFrame {
  @IsString() @IsNotEmpty()
  token!: string;

  ref?: string;
}
