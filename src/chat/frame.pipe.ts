import { Inject, Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { SETTINGS, type Settings } from '../config/settings.js';
import { inputProblem } from '../core/text.js';
import { CompiledValidators } from './compiled-validator.js';
import { framePipe } from './validation.js';

/**
 * Validates client frames against their DTO classes (`framePipe`). With the
 * `compiled` validator (FRAME_VALIDATOR), a frame that passes is built and
 * checked by one function per DTO instead of class-transformer and
 * class-validator; every other frame takes `framePipe`, which writes the error.
 */
@Injectable()
export class FramePipe implements PipeTransform {
  private readonly compiled: CompiledValidators | undefined;

  constructor(@Inject(SETTINGS) settings: Settings) {
    this.compiled = settings.ws.frameValidator === 'compiled' ? new CompiledValidators() : undefined;
  }

  /** A plain value, not a promise, when the compiled path settles it: one await fewer per frame. */
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const { metatype, type } = metadata;
    // A value with ill-formed text anywhere, or nested too deep, is refused first, by `framePipe`.
    if (this.compiled && inputProblem(value) === undefined) {
      // What ValidationPipe returns untouched: `custom` parameters (validateCustomDecorators: false)
      // and, with no `data`, the parameters typed as a built-in (the socket).
      if (type === 'custom' || (!metadata.data && (!metatype || UNVALIDATED.has(metatype)))) return value;
      const entity = metatype && isPlainObject(value) ? this.compiled.for(metatype)?.(value) : undefined;
      if (entity) return entity;
    }
    return framePipe.transform(value, metadata);
  }
}

/** The types ValidationPipe does not validate. */
const UNVALIDATED = new Set<unknown>([String, Boolean, Number, Array, Object, Buffer, Date]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
