/** A lone surrogate: half of a UTF-16 pair without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE.source);
/** Only characters `encodeURIComponent` leaves as they are (ids, uuids): such a part is its own encoding. */
const PLAIN = /^[\w.~!*'()-]*$/;

/**
 * One variable part of a composite key, encoded so that two different
 * strings never give the same text: `encodeURIComponent` (which also takes
 * `:`, `{`, `}`, `%` and whitespace out of the part), and a lone surrogate,
 * which has no UTF-8 form and would otherwise become U+FFFD in Redis, as
 * `%uXXXX` (never produced by `encodeURIComponent`).
 */
export function keyPart(value: string): string {
  if (PLAIN.test(value)) return value;
  if (!HAS_LONE_SURROGATE.test(value)) return encodeURIComponent(value);
  let out = '';
  let from = 0;
  for (const match of value.matchAll(LONE_SURROGATE)) {
    const at = match.index;
    out += `${encodeURIComponent(value.slice(from, at))}%u${value.charCodeAt(at).toString(16).toUpperCase()}`;
    from = at + 1;
  }
  return out + encodeURIComponent(value.slice(from));
}

/**
 * The one composition of a key from variable parts, used by the memory
 * stores for their maps and by the Redis key layout: parts are encoded with
 * `keyPart` and joined with `:`, so different inputs never meet in one key.
 */
export function composeKey(...parts: string[]): string {
  let key = keyPart(parts[0] ?? '');
  for (let i = 1; i < parts.length; i++) key += `:${keyPart(parts[i])}`;
  return key;
}

/** The inverse of `keyPart`. */
export function decodeKeyPart(part: string): string {
  return part.replace(/%u([0-9A-F]{4})|(?:%[0-9A-F]{2})+/g, (match: string, unit: string | undefined) =>
    unit === undefined ? decodeURIComponent(match) : String.fromCharCode(parseInt(unit, 16)),
  );
}
