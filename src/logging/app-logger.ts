import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import { PrettyStream } from './pretty.stream.js';
import { scrubText, scrubValue } from '../core/redact.js';

/** Fields a log line about one connection carries (snake_case, as on the wire). */
export interface ConnectionLogFields {
  connection_id: string;
  user_id: string;
}

/**
 * Nest's start-up wiring ("InstanceLoader …", "Mapped {…} route" …): useful
 * when debugging the wiring, noise at `info`, so logged at `debug`.
 */
const WIRING_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestApplication',
]);

const STACK = /^.*\n\s+at .+/;

/** A Redis error names its command; its arguments (keys, user ids, what users wrote) stay out of the log. */
function withoutCommandArguments(serialized: Record<string, unknown>): Record<string, unknown> {
  const command = serialized.command as { name?: unknown; args?: unknown } | undefined;
  if (typeof command !== 'object' || command === null || !('args' in command)) return serialized;
  return { ...serialized, command: { name: command.name } };
}

/**
 * The application's logger: pino underneath, Nest's `LoggerService` on top
 * (so `new Logger(Context)` everywhere writes through it). JSON lines or
 * readable lines (`LOG_FORMAT`), from `LOG_LEVEL` up; tokens, query strings
 * and secrets are scrubbed from every message, field and error.
 *
 * `forConnection()` gives a child logger whose every line carries the
 * connection id and user id.
 */
export class AppLogger implements LoggerService {
  readonly pino: Logger;

  constructor(
    options: Settings['logging'],
    destination: DestinationStream = options.format === 'pretty' ? new PrettyStream() : process.stdout,
  ) {
    this.pino = pino(
      {
        level: options.level,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: {
          level: (label) => ({ level: label }),
          log: (fields) => scrubValue(fields) as Record<string, unknown>,
        },
        serializers: { err: (error: Error) => scrubValue(withoutCommandArguments(pino.stdSerializers.err(error))) },
        hooks: {
          logMethod(args, method) {
            method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg)) as Parameters<typeof method>);
          },
        },
      },
      destination,
    );
  }

  /** A logger whose every line carries `connection_id` and `user_id` (and `context`, when given). */
  forConnection(fields: ConnectionLogFields, context?: string): Logger {
    return this.pino.child(context ? { context, ...fields } : { ...fields });
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /**
   * Nest calls `(message, ...params, context)`, and for errors
   * `(message, stack?, context?)`: the context is the last string unless it
   * is a stack; an error's first other string is its stack, other strings
   * join the message.
   */
  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = [...params];
    const fields: Record<string, unknown> = {};
    const last = rest.at(-1);
    if (typeof last === 'string' && !STACK.test(last)) fields.context = rest.pop();
    if (level === 'info' && WIRING_CONTEXTS.has(fields.context as string)) level = 'debug';
    if (!this.pino.isLevelEnabled(level)) return;
    const texts: string[] = [];
    for (const param of rest) {
      if (typeof param === 'string') {
        if ((level === 'error' || level === 'fatal') && fields.stack === undefined) fields.stack = param;
        else texts.push(param);
      } else if (param instanceof Error) fields.err = param;
      else if (param !== undefined) fields.detail = param;
    }
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      // `logger.log({ fields }, 'text')`: the fields, with the text as the message.
      this.pino[level]({ ...fields, ...message }, texts.join(' ') || undefined);
    } else {
      this.pino[level](fields, [String(message), ...texts].join(' '));
    }
  }
}
