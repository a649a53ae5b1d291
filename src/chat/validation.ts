import { BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

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

/** How frames (`FramePipe`) and REST input are validated. */
export const validationOptions = { transform: true, forbidUnknownValues: true, validateCustomDecorators: false };

/** Validates REST bodies and queries; a failure is a 400 naming the field. */
export const restPipe = new ValidationPipe({
  ...validationOptions,
  whitelist: true,
  exceptionFactory: (errors) => new BadRequestException(describeValidation(errors)),
});
