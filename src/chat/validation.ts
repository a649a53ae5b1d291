import {
  ArgumentMetadata,
  BadRequestException,
  Injectable,
  PipeTransform,
  ValidationPipe,
  type ValidationPipeOptions,
} from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { CLIENT_ID_PATTERN, MAX_USER_ID_LENGTH, isRoomId, isUserId } from '../core/ids.js';
import { inputProblem } from '../core/text.js';
import { ChatError } from './chat.error.js';

/**
 * The first problem of a failed validation, naming the field by its path
 * (`since.seq must be …`). Of a field's failed constraints, the one written
 * first on it: decorators apply from the bottom up, so class-validator lists
 * it last, and the first is the type check (`must be a string`, not
 * `must be shorter than …` for a number).
 */
export function describeValidation(errors: ValidationError[], parent = ''): string {
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const constraint = Object.values(error.constraints ?? {}).at(-1);
    if (constraint) return constraint.replace(error.property, path);
    if (error.children?.length) return describeValidation(error.children, path);
  }
  return 'invalid input';
}

const options = { transform: true, forbidUnknownValues: true, validateCustomDecorators: false };

/**
 * class-validator, after one walk over the value (`inputProblem`): text that
 * is not well-formed Unicode (a lone surrogate) is refused whatever field it
 * is in, field names included, since no store or encoder can keep it; and
 * so is nesting deep enough to exhaust the stack of a recursive walk.
 */
class InputPipe extends ValidationPipe {
  constructor(
    pipeOptions: ValidationPipeOptions,
    private readonly refuse: (message: string) => Error,
  ) {
    super({ ...pipeOptions, exceptionFactory: (errors) => refuse(describeValidation(errors)) });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const problem = inputProblem(value, typeof metadata.data === 'string' ? metadata.data : '');
    if (problem !== undefined) throw this.refuse(problem);
    return super.transform(value, metadata);
  }
}

/** Validates client frames with class-validator; a failure is our `invalid_frame` error, not Nest's HTTP 400. `FramePipe` puts the compiled checks in front. */
export const framePipe = new InputPipe(options, (message) => new ChatError('invalid_frame', message));

/** Validates REST bodies and queries; a failure is a 400 naming the field. */
export const restPipe = new InputPipe({ ...options, whitelist: true }, (message) => new BadRequestException(message));

/** A `:room_id` path parameter: a room id this service made (a UUID), or 400 before any store is asked. */
@Injectable()
export class RoomIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isRoomId(value)) throw new BadRequestException('room_id must be a room id (a UUID)');
    return value;
  }
}

/** A `:message_id` path parameter: 1–128 of `A–Z a–z 0–9 . _ : -`, or 400. */
@Injectable()
export class MessageIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!CLIENT_ID_PATTERN.test(value)) throw new BadRequestException('message_id must be 1–128 of A–Z a–z 0–9 . _ : -');
    return value;
  }
}

/** A `:user_id` path parameter: well-formed text of 1–256 characters (as a token's `sub`), or 400. */
@Injectable()
export class UserIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUserId(value)) {
      throw new BadRequestException(`user_id must be well-formed text of 1–${MAX_USER_ID_LENGTH} characters, not . or ..`);
    }
    return value;
  }
}
