// What must never reach a log line: tokens (JWTs, bearer values, the
// `access_token` subprotocol), query strings (a token may ride in one),
// passwords in URLs. Applied to every message, field and error of every
// logger, whatever the caller passed.

const REDACTED = '[redacted]';

/** Field names whose values are dropped wherever they appear (compared lower-cased). */
const SECRET_KEYS = new Set([
  'token',
  'access_token',
  'refresh_token',
  'authorization',
  'sec-websocket-protocol',
  'cookie',
  'set-cookie',
  'password',
  'secret',
  'jwt_secret',
]);

const TEXT_RULES: Array<[RegExp, string]> = [
  // A JWT anywhere: header.payload.signature, base64url, the header always starting `eyJ`.
  [/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, REDACTED],
  [/\b(Bearer|Basic)\s+[^\s,;"']+/gi, `$1 ${REDACTED}`],
  [/\b(access_token\s*,\s*)[^\s,;"']+/gi, `$1${REDACTED}`],
  // A URL's query string, whole: keep the path, drop everything after `?`.
  [/((?:\b[a-z][a-z\d+.-]*:\/\/[^\s/?#"'<>]*)?\/[^\s?#"'<>]*)\?[^\s#"'<>]*/gi, `$1?${REDACTED}`],
  // `token=…` outside a URL (a form body, a message that quotes a parameter).
  [/\b((?:access_)?token=)[^&\s"']+/gi, `$1${REDACTED}`],
  // user:password@ in a URL.
  [/(\b[a-z][a-z\d+.-]*:\/\/[^\s/:@"']*:)[^\s/@"']+@/gi, `$1${REDACTED}@`],
];

export function scrubText(text: string): string {
  let result = text;
  for (const [pattern, replacement] of TEXT_RULES) result = result.replace(pattern, replacement);
  return result;
}

/**
 * A copy of `value` with secret fields dropped and every string scrubbed.
 * Errors are left for the `err` serializer (which scrubs them too).
 */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (depth > 6) return '[deep]';
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = SECRET_KEYS.has(key.toLowerCase()) ? REDACTED : scrubValue(item, depth + 1);
  }
  return copy;
}

/** A URL safe to print: no password, no query string. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return REDACTED;
  }
}
