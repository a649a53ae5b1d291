import type { Writable } from 'node:stream';

const LEVEL_COLOURS: Record<string, number> = { fatal: 35, error: 31, warn: 33, info: 32, debug: 36, trace: 90 };
/** Fields every line has or that are shown in the line's head, not repeated as key=value. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'context', 'pid', 'hostname', 'err', 'stack']);

/** Whether `text` holds a control character (a newline, a NUL …). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // C0 and C1 controls, and the Unicode line and paragraph separators.
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029) return true;
  }
  return false;
}

/** A stack as it is, but its message (the part before the first frame), which may quote a client's text, kept on its line. */
function printableStack(stack: string): string {
  const frames = stack.indexOf('\n    at ');
  return frames < 0 ? printable(stack) : `${printable(stack.slice(0, frames))}${stack.slice(frames)}`;
}

/** `text` with its control characters written as JSON escapes, so it stays on its line. */
function printable(text: string): string {
  return hasControl(text) ? escapeBeyondJson(JSON.stringify(text).slice(1, -1)) : text;
}

/** JSON escapes C0 controls; the others are escaped here the same way. */
function escapeBeyondJson(json: string): string {
  return json.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Turns pino's JSON lines into one readable line each:
 * `09:15:02.114 INFO  [Context] message key=value …`, an error's stack below it.
 */
export class PrettyStream {
  private readonly colour: boolean;

  constructor(private readonly out: Pick<Writable, 'write'> & { isTTY?: boolean } = process.stdout) {
    this.colour = out.isTTY === true;
  }

  write(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(line);
      return;
    }
    const level = String(entry.level ?? 'info');
    const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
    const head = level.toUpperCase().padEnd(5);
    const parts = [time, this.colour ? `\x1b[${LEVEL_COLOURS[level] ?? 0}m${head}\x1b[0m` : head];
    if (entry.context) parts.push(`[${printable(String(entry.context))}]`);
    if (entry.msg !== undefined) parts.push(printable(String(entry.msg)));
    for (const [key, value] of Object.entries(entry)) {
      // A value a client chose (a user id from a token) with a newline in it would forge a line: quoted, escaped.
      if (!HEAD_FIELDS.has(key)) parts.push(`${key}=${typeof value === 'string' && !hasControl(value) ? value : escapeBeyondJson(JSON.stringify(value))}`);
    }
    const err = entry.err as { stack?: string; message?: string } | undefined;
    const stack = err?.stack ?? err?.message ?? (typeof entry.stack === 'string' ? entry.stack : undefined);
    this.out.write(`${parts.join(' ')}\n${stack ? `${printableStack(stack)}\n` : ''}`);
  }
}
