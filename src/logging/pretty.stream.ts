import type { Writable } from 'node:stream';

const LEVEL_COLOURS: Record<string, number> = { fatal: 35, error: 31, warn: 33, info: 32, debug: 36, trace: 90 };
/** Fields every line has or that are shown in the line's head, not repeated as key=value. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'context', 'pid', 'hostname', 'err', 'stack']);

/** Whether `text` holds a control character (a newline, a NUL …). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** `text` with its control characters written as JSON escapes, so it stays on its line. */
function printable(text: string): string {
  return hasControl(text) ? JSON.stringify(text).slice(1, -1) : text;
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
      if (!HEAD_FIELDS.has(key)) parts.push(`${key}=${typeof value === 'string' && !hasControl(value) ? value : JSON.stringify(value)}`);
    }
    const err = entry.err as { stack?: string; message?: string } | undefined;
    const stack = err?.stack ?? err?.message ?? (typeof entry.stack === 'string' ? entry.stack : undefined);
    this.out.write(`${parts.join(' ')}\n${stack ? `${stack}\n` : ''}`);
  }
}
