/**
 * Timestamps as PROTOCOL writes them (`toISOString()`: 'YYYY-MM-DDTHH:mm:ss.sssZ'),
 * formatted and read at a message's rate. Both keep the last second they
 * saw: consecutive messages mostly share it, so only the milliseconds are
 * written or read then. `toISOString` and `Date.parse` each cost as much
 * as the rest of a message's bookkeeping.
 */

/** The second `isoTime` wrote last (its time, and its text up to the '.'), NaN before the first. */
let formattedSecond = Number.NaN;
let formattedPrefix = '';

/** `new Date(ms).toISOString()`. */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000) * 1000;
  if (second !== formattedSecond) {
    // Everything but 'sssZ': the same for every millisecond of this second, in any year's format.
    formattedPrefix = new Date(second).toISOString().slice(0, -4);
    formattedSecond = second;
  }
  const millis = ms - second;
  return `${formattedPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** The second `isoMillis` read last ('YYYY-MM-DDTHH:mm:ss'), and its time; empty before the first. */
let lastSecond = '';
let lastSecondMs = 0;

/** `Date.parse` of a time, read quickly when it is in `toISOString()`'s form. */
export function isoMillis(text: string): number {
  const ms = text.length === 24 && text.charCodeAt(19) === 46 && text.charCodeAt(23) === 90 ? digits3(text, 20) : -1;
  if (ms >= 0 && lastSecond !== '' && text.startsWith(lastSecond)) return lastSecondMs + ms;
  const at = Date.parse(text);
  if (ms >= 0 && !Number.isNaN(at)) {
    lastSecond = text.slice(0, 19);
    lastSecondMs = at - ms;
  }
  return at;
}

/** The number written by three decimal digits at `at`, or -1. */
function digits3(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  const c = text.charCodeAt(at + 2) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : -1;
}
