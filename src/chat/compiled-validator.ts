import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage, ValidationTypes, type ValidationArguments } from 'class-validator';

/** A class; class-validator and class-transformer key their metadata by constructor. */
type Dto = new () => object;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- the metadata stores' own key type
type Class = Function;
type Plain = Record<string, unknown>;
type Metadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];
type TypeMetadata = ReturnType<typeof defaultMetadataStorage.findTypeMetadata>;
/** valid, invalid, or undefined: only class-validator can tell. */
type Verdict = boolean | undefined;
type EntityCheck = (entity: Plain) => Verdict;

/**
 * A DTO class's `plainToInstance` + `validate`, as one function: the
 * instance when it is valid, false when it is not, undefined when only
 * class-validator can tell.
 */
export type CompiledDto = (value: Plain) => object | false | undefined;

/**
 * class-transformer's `plainToInstance` and class-validator's `validate`,
 * built once per DTO class from the decorators' metadata instead of being
 * looked up on every call. Each decorator's own constraint decides, called
 * with the arguments and in the order class-validator uses, so a new
 * decorator needs nothing here. What this does not know (`each` on anything
 * but a constraint, async constraints, groups, `@Transform`,
 * `@Expose`/`@Exclude`, discriminators, arrays of nested objects) leaves the
 * class, or the value, to class-validator.
 *
 * It never writes an error: a value it finds invalid is validated again by
 * class-validator, which does, so the answers are the same on both paths.
 */
export class CompiledValidators {
  private readonly byClass = new Map<Class, CompiledDto | null>();

  /** The compiled function of a class, or null when the class is left to class-validator. */
  for(metatype: Class): CompiledDto | null {
    let compiled = this.byClass.get(metatype);
    if (compiled === undefined) {
      compiled = this.compile(metatype as Dto);
      this.byClass.set(metatype, compiled);
    }
    return compiled;
  }

  private compile(type: Dto): CompiledDto | null {
    const check = this.entityCheck(type, '');
    const build = instanceBuilder(type);
    if (!check || !build) return null;
    return (value) => {
      const entity = build(value);
      if (!entity) return undefined;
      // A constraint that throws is class-validator's to answer (its answer, or the same failure).
      let verdict: Verdict;
      try {
        verdict = check(entity as Plain);
      } catch {
        return undefined;
      }
      return verdict === true ? entity : verdict;
    };
  }

  /** What `ValidationExecutor.execute(entity, schema)` decides about an instance of `type`. */
  private entityCheck(type: Class, schema: string): EntityCheck | null {
    // The same query class-validator makes (no groups, `always` off).
    const metadatas = getMetadataStorage().getTargetValidationMetadatas(type, schema, false, false, undefined);
    // None at all is class-validator's "unknown value" error.
    if (metadatas.length === 0 || metadatas.some((m) => typeof m.target === 'string')) return null;
    const byProperty = new Map<string, Metadata[]>();
    for (const metadata of metadatas) {
      byProperty.set(metadata.propertyName, [...(byProperty.get(metadata.propertyName) ?? []), metadata]);
    }
    const properties: EntityCheck[] = [];
    for (const [property, group] of byProperty) {
      const check = this.propertyCheck(type, property, group);
      if (!check) return null;
      properties.push(check);
    }
    return (entity) => {
      for (const check of properties) {
        const verdict = check(entity);
        if (verdict !== true) return verdict;
      }
      return true;
    };
  }

  /** One property, in class-validator's order: conditions (`@IsOptional`), `@IsDefined`, constraints, nested. */
  private propertyCheck(type: Class, property: string, metadatas: Metadata[]): EntityCheck | null {
    const conditions: Array<(object: object, value: unknown) => boolean> = [];
    const defined: ConstraintCheck[] = [];
    const constraints: ConstraintCheck[] = [];
    const nested: Array<(value: unknown) => Verdict> = [];
    for (const metadata of metadatas) {
      // `each` is known for constraints (each item of an array); elsewhere it is left to class-validator.
      const eachUnknown = metadata.each && metadata.type !== ValidationTypes.CUSTOM_VALIDATION;
      if (eachUnknown || metadata.groups?.length || metadata.always !== undefined) return null;
      switch (metadata.type) {
        case ValidationTypes.CONDITIONAL_VALIDATION:
          conditions.push(metadata.constraints[0] as (object: object, value: unknown) => boolean);
          break;
        case ValidationTypes.IS_DEFINED:
        case ValidationTypes.CUSTOM_VALIDATION: {
          const check = constraintCheck(type, metadata);
          if (!check) return null;
          (metadata.type === ValidationTypes.IS_DEFINED ? defined : constraints).push(check);
          break;
        }
        case ValidationTypes.NESTED_VALIDATION: {
          const target = metadata.target as Class;
          nested.push(this.nestedCheck(target.name));
          break;
        }
        case ValidationTypes.WHITELIST:
          // `@Allow` matters only with `whitelist`, which is not supported here.
          break;
        default:
          return null;
      }
    }
    const all = [...defined, ...constraints];
    return (entity) => {
      const value = entity[property];
      for (const condition of conditions) if (!condition(entity, value)) return true;
      for (const check of all) {
        const verdict = check(entity, value);
        if (verdict !== true) return verdict;
      }
      if (value === undefined) return true;
      for (const check of nested) {
        const verdict = check(value);
        if (verdict !== true) return verdict;
      }
      return true;
    };
  }

  /** `@ValidateNested` of one object: its own class's rules (lists of objects are left to class-validator). */
  private nestedCheck(schema: string): (value: unknown) => Verdict {
    const byType = new Map<Class, EntityCheck | null>();
    return (value) => {
      if (Array.isArray(value) || value instanceof Set || value instanceof Map) return undefined;
      if (!(value instanceof Object)) return false;
      const type = value.constructor;
      let check = byType.get(type);
      if (check === undefined) {
        check = this.entityCheck(type, schema);
        byType.set(type, check);
      }
      return check ? check(value as Plain) : undefined;
    };
  }
}

type ConstraintCheck = (entity: Plain, value: unknown) => Verdict;

/** A decorator's constraint on a property of `type`, called as `ValidationExecutor.customValidations` calls it. */
function constraintCheck(type: Class, metadata: Metadata): ConstraintCheck | null {
  const constraints = getMetadataStorage().getTargetValidatorConstraints(metadata.constraintCls);
  if (constraints.length === 0 || constraints.some((c) => c.async)) return null;
  const validators = constraints.map((c) => c.instance);
  const { validateIf, propertyName, constraints: args, each } = metadata;
  // The entity's `constructor.name`, read once: a function's name is a native accessor, slow per frame.
  const targetName = type.name;
  return (entity, value) => {
    if (validateIf && !validateIf(entity, value)) return true;
    // class-validator's `each` over a Set or a Map: left to it.
    if (each && (value instanceof Set || value instanceof Map)) return undefined;
    for (const validator of validators) {
      const validationArguments: ValidationArguments = {
        targetName,
        property: propertyName,
        object: entity,
        value,
        constraints: args,
      };
      // With `each`, an array's items are checked one by one (with the arguments of the whole value, as class-validator passes them).
      if (each && Array.isArray(value)) {
        for (const item of value as unknown[]) {
          const verdict = judge(validator, item, validationArguments);
          if (verdict !== true) return verdict;
        }
        continue;
      }
      const verdict = judge(validator, value, validationArguments);
      if (verdict !== true) return verdict;
    }
    return true;
  };
}

/** One constraint's answer for one value; an async one is left to class-validator. */
function judge(validator: { validate(value: unknown, args: ValidationArguments): unknown }, value: unknown, args: ValidationArguments): Verdict {
  const valid = validator.validate(value, args);
  if (valid instanceof Promise) return undefined;
  return Boolean(valid);
}

/** class-transformer's metadata of a class and its ancestors, read once. */
function transformerMetadata(type: Class, map: '_typeMetadatas' | '_transformMetadatas'): Map<string, unknown> {
  // The storage keeps these per class in private maps; a public query needs a property name.
  const maps = (defaultMetadataStorage as unknown as Record<typeof map, Map<Class, Map<string, unknown>>>)[map];
  const found = new Map<string, unknown>();
  const lineage: Class[] = [];
  for (let t: Class = type; t && t !== Function.prototype && t.prototype !== undefined; t = Object.getPrototypeOf(t) as Class) {
    lineage.unshift(t);
  }
  for (const t of lineage) for (const [property, metadata] of maps.get(t) ?? []) found.set(property, metadata);
  return found;
}

/**
 * `plainToInstance(type, value)` for a plain object from JSON.parse, with
 * class-transformer's rules: every key is copied except those the class has
 * as a method or a getter without a setter, `@Type` properties become
 * instances of their class, and other objects and arrays are copied
 * (`plainCopy`). Undefined for a class or value it does not handle (a
 * `@Type` to a built-in type, which class-transformer converts to).
 */
function instanceBuilder(type: Dto): ((value: Plain) => object | undefined) | null {
  if (defaultMetadataStorage.getStrategy(type) !== 'none') return null;
  if (defaultMetadataStorage.getExposedMetadatas(type).length > 0) return null;
  if (defaultMetadataStorage.getExcludedMetadatas(type).length > 0) return null;
  if (transformerMetadata(type, '_transformMetadatas').size > 0) return null;
  const typed = transformerMetadata(type, '_typeMetadatas') as Map<string, NonNullable<TypeMetadata>>;
  for (const metadata of typed.values()) {
    // A discriminator, a `@Type()` that names no class (the reflected type decides) and a Map or Set of them are class-transformer's.
    if (metadata.options?.discriminator || typeof metadata.typeFunction !== 'function') return null;
    if (metadata.reflectedType === Map || metadata.reflectedType === Set) return null;
  }
  const nested = new Map<Class, ((value: Plain) => object | undefined) | null>();
  /** Keys the class itself has (fields, methods, accessors): a bounded set, so the answers are kept. */
  const assignable = new Map<string, boolean>();
  return (value) => {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return undefined;
    const entity = new type() as Plain;
    for (const key of Object.keys(value)) {
      // What the pipe strips before class-transformer sees it; rare, so left to that path.
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') return undefined;
      if (key in entity) {
        let allowed = assignable.get(key);
        if (allowed === undefined) {
          const descriptor = Object.getOwnPropertyDescriptor(type.prototype, key);
          allowed = !((descriptor && !descriptor.set) || entity[key] instanceof Function);
          assignable.set(key, allowed);
        }
        if (!allowed) continue;
      }
      const item = value[key];
      const typeMetadata = typed.get(key);
      if (typeMetadata && item !== null && item !== undefined) {
        const nestedType = typeMetadata.typeFunction({ newObject: entity, object: value, property: key }) as Dto;
        // class-transformer converts a value to a built-in type (a Date from a string, a Number from anything): left to it.
        // Asked per value, since the type function is given the object and may answer differently for each.
        if (BUILT_INS.has(nestedType)) return undefined;
        // A value that is not an object it keeps as it is, for a class.
        if (typeof item !== 'object') {
          entity[key] = item;
          continue;
        }
        if (Array.isArray(item)) return undefined;
        let build = nested.get(nestedType);
        if (build === undefined) {
          build = instanceBuilder(nestedType);
          nested.set(nestedType, build);
        }
        const built = build?.(item as Plain);
        if (!built) return undefined;
        entity[key] = built;
      } else {
        const copy = plainCopy(item);
        if (copy === DECLINED) return undefined;
        entity[key] = copy;
      }
    }
    return entity;
  };
}

/** Types `@Type` may name that class-transformer converts to rather than builds. */
const BUILT_INS = new Set<unknown>([Number, String, Boolean, Date, Object, Array, Map, Set, Buffer, Promise]);

const DECLINED = Symbol('declined');

/**
 * An untyped value as class-transformer copies it: objects and arrays anew,
 * each level without the keys named like `Object.prototype`'s members
 * (`toString`, `hasOwnProperty`: what its copy would inherit), so a
 * validator never calls a key the client sent. DECLINED for what the pipe
 * strips first (prototype keys).
 */
function plainCopy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    for (const item of value) {
      const itemCopy = plainCopy(item);
      if (itemCopy === DECLINED) return DECLINED;
      copy.push(itemCopy);
    }
    return copy;
  }
  const copy: Plain = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return DECLINED;
    if (key in Object.prototype) continue;
    const itemCopy = plainCopy((value as Plain)[key]);
    if (itemCopy === DECLINED) return DECLINED;
    copy[key] = itemCopy;
  }
  return copy;
}
