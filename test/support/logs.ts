import { Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import { inspect } from 'node:util';

export interface LogLine {
  level: LogLevel;
  context: string | undefined;
  text: string;
  /** The message and every parameter, written out in full: what a log sink would receive. */
  full: string;
}

/**
 * What the application logs, recorded instead of printed: a test that
 * provokes an error takes the line it expects (`take`), so `npm test` shows
 * no expected failures. Nest's `Logger` is one per process (one per test
 * file under Jest), so there is one recorder per file, `logs`; the lines of
 * every app the file starts land in it.
 */
export class LogRecorder implements LoggerService {
  readonly lines: LogLine[] = [];

  log(message: unknown, ...params: unknown[]): void {
    this.record('log', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.record('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.record('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.record('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.record('verbose', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.record('fatal', message, params);
  }

  /** Removes and returns the recorded lines of `level` whose text matches `pattern` (and from `context`, when given). */
  take(level: LogLevel, pattern: RegExp, context?: string): LogLine[] {
    const taken = this.lines.filter(
      (line) => line.level === level && pattern.test(line.text) && (context === undefined || line.context === context),
    );
    for (const line of taken) this.lines.splice(this.lines.indexOf(line), 1);
    return taken;
  }

  /** The text of every error and fatal line recorded and not taken. */
  errors(): string[] {
    return this.lines.filter((line) => line.level === 'error' || line.level === 'fatal').map((line) => line.text);
  }

  /** Forgets everything recorded so far (start-up chatter, lines of earlier tests). */
  clear(): void {
    this.lines.splice(0);
  }

  private record(level: LogLevel, message: unknown, params: unknown[]): void {
    // A Nest `Logger` with a context passes it last.
    const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
    const text = message instanceof Error ? `${message.name}: ${message.message}` : typeof message === 'string' ? message : JSON.stringify(message);
    const full = [message, ...params].map((part) => (typeof part === 'string' ? part : inspect(part, { depth: 5 }))).join(' ');
    this.lines.push({ level, context, text, full });
  }
}

export const logs = new LogRecorder();

/** Sends every Nest `Logger` of this test file to `logs`; the app harness does this for the apps it starts. */
export function recordNestLogs(): void {
  Logger.overrideLogger(logs);
  reportUnexpectedErrors();
}

let reporting = false;

/** After the file's tests, prints the error lines no test took, so an unexpected error stays visible. */
export function reportUnexpectedErrors(): void {
  if (reporting) return;
  reporting = true;
  afterAll(() => {
    const unexpected = logs.lines.filter((line) => line.level === 'error' || line.level === 'fatal');
    if (unexpected.length === 0) return;
    const lines = unexpected.map((line) => `  ${line.level.toUpperCase()} [${line.context ?? '-'}] ${line.text}`);
    process.stderr.write(`Errors logged and not expected by any test:\n${lines.join('\n')}\n`);
  });
}
