/**
 * True when `text` is well-formed Unicode: no lone surrogate. Such a string
 * cannot be encoded as UTF-8 without loss, so every client string is
 * refused unless it passes (Node 20 has `String.prototype.isWellFormed`).
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** At most `max` code units of `text`, never half of a surrogate pair. */
export function cutAt(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * How deep arrays and objects may nest in a value a client sends: far past
 * any body or frame this service takes, and far within the stack of the
 * walks over it (this one, class-transformer's, class-validator's).
 */
export const MAX_INPUT_DEPTH = 32;

/** The answer to a value nested deeper than MAX_INPUT_DEPTH. */
export const TOO_DEEP = `Arrays and objects may nest at most ${MAX_INPUT_DEPTH} deep`;

/**
 * What is wrong with a client value before its DTO sees it, as the answer's
 * message; undefined when nothing is. Refused: a string (a value or a key)
 * that is not well-formed, named by its path (`member_ids.2 must be …`),
 * and nesting deeper than MAX_INPUT_DEPTH. Looks into arrays and plain
 * objects only (what JSON and query strings make).
 */
export function inputProblem(value: unknown, path = ''): string | undefined {
  // Every frame passes here and nearly all are fine: a walk that builds no
  // strings answers that; the path is built only on failure.
  const verdict = walk(value, 0);
  if (verdict === 'ok') return undefined;
  if (verdict === 'too_deep') return TOO_DEEP;
  return `${pathOfIllFormed(value, path) ?? (path || 'value')} must be well-formed Unicode text`;
}

type Verdict = 'ok' | 'ill_formed' | 'too_deep';

function walk(value: unknown, depth: number): Verdict {
  if (typeof value === 'string') return isWellFormed(value) ? 'ok' : 'ill_formed';
  if (!isPlain(value)) return 'ok';
  if (depth === MAX_INPUT_DEPTH) return 'too_deep';
  if (Array.isArray(value)) {
    for (const item of value) {
      const verdict = walk(item, depth + 1);
      if (verdict !== 'ok') return verdict;
    }
    return 'ok';
  }
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (!isWellFormed(key)) return 'ill_formed';
    const verdict = walk((value as Record<string, unknown>)[key], depth + 1);
    if (verdict !== 'ok') return verdict;
  }
  return 'ok';
}

/** Called once `walk` found an ill-formed string: it visits in the same order and stops there, so never deeper than the walk went. */
function pathOfIllFormed(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return isWellFormed(value) ? undefined : path || 'value';
  if (!isPlain(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!isWellFormed(key)) return path || 'a field name';
    const bad = pathOfIllFormed(item, at);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function isPlain(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === Array.prototype || proto === null;
}
