// Structured logging (pino). On a terminal, one readable line per event (pino-pretty); otherwise one JSON object
// per line for journald, files and log shippers. Both carry ISO 8601 timestamps and level names. Secrets never
// reach it: SASL payloads, passwords and tokens are not logged anywhere, and the redact list is a second guard.
// Audit events (connections, logins, account and admin actions) are in core/audit.ts, documented in docs/LOGGING.md.
import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { createRequire } from 'node:module';
import type { PrettyOptions, PrettyStream } from 'pino-pretty';

// Loaded only for a terminal: services and containers (JSON) and short CLI commands do not pay for it.
const loadPretty = (): ((options: PrettyOptions) => PrettyStream) => createRequire(import.meta.url)('pino-pretty') as never;

export type Logger = PinoLogger;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** 'pretty' for people, 'json' for machines; default: pretty when standard output is a terminal. */
  format?: 'pretty' | 'json';
  /** Where lines go; default standard output. */
  destination?: DestinationStream;
}

/**
 * Child loggers copy their parent's level when created: to change the level of a running server (SIGHUP) every
 * descendant is remembered, weakly, and updated with it.
 */
const descendants = new WeakMap<Logger, Set<WeakRef<Logger>>>();

export function createLogger(level: string, name = 'parley', options: LoggerOptions = {}): Logger {
  const format = options.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const destination =
    format === 'pretty'
      ? loadPretty()({ colorize: process.stdout.isTTY, singleLine: true, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l o', ignore: 'pid,hostname', destination: options.destination as never })
      : (options.destination ?? pino.destination({ sync: true }));
  const children = new Set<WeakRef<Logger>>();
  const root = pino(
    {
      name,
      level,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['password', '*.password', 'credentials', '*.credentials', 'token', '*.token', 'key', '*.key', 'secret', '*.secret'],
        censor: '[redacted]',
      },
      // Inherited by children, so grandchildren are remembered too.
      onChild: (child) => {
        children.add(new WeakRef(child));
        // Sessions make child loggers and drop them: forget the collected ones now and then.
        if (children.size % 4096 === 0) for (const ref of children) if (!ref.deref()) children.delete(ref);
      },
    },
    destination,
  );
  descendants.set(root, children);
  return root;
}

/** Changes the level of a logger made by createLogger and of every child logger it has given. */
export function setLogLevel(root: Logger, level: LogLevel): void {
  root.level = level;
  const children = descendants.get(root);
  if (!children) return;
  for (const ref of children) {
    const child = ref.deref();
    if (child) child.level = level;
    else children.delete(ref);
  }
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
