/**
 * True when `text` is well-formed Unicode: no lone surrogate. Such a string
 * cannot be encoded as UTF-8 without loss, so every client string is
 * refused unless it passes (Node 20 has `String.prototype.isWellFormed`).
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * The path of the first string (a value or a key) in `value` that is not
 * well-formed, like `member_ids.2`; undefined when there is none. Looks
 * into arrays and plain objects only (what JSON and query strings make).
 */
export function illFormedPath(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return isWellFormed(value) ? undefined : path || 'value';
  if (!isPlain(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!isWellFormed(key)) return path || 'a field name';
    const bad = illFormedPath(item, at);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function isPlain(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === Array.prototype || proto === null;
}
