import { BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { ChatError } from './chat.error.js';

/** The first problem of a failed validation, naming the field by its path (`since.seq must be …`). */
export function describeValidation(errors: ValidationError[], parent = ''): string {
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const constraint = Object.values(error.constraints ?? {})[0];
    if (constraint) return constraint.replace(error.property, path);
    if (error.children?.length) return describeValidation(error.children, path);
  }
  return 'invalid input';
}

const options = { transform: true, forbidUnknownValues: true, validateCustomDecorators: false };

/** Validates client frames; a failure is our `invalid_frame` error, not Nest's HTTP 400. */
export const framePipe = new ValidationPipe({
  ...options,
  exceptionFactory: (errors) => new ChatError('invalid_frame', describeValidation(errors)),
});

/** Validates REST bodies and queries; a failure is a 400 naming the field. */
export const restPipe = new ValidationPipe({
  ...options,
  whitelist: true,
  exceptionFactory: (errors) => new BadRequestException(describeValidation(errors)),
});
