// Structured logging (pino). Secrets never reach it: SASL payloads and passwords are not logged anywhere.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level: string, name = 'parley'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['password', '*.password', 'credentials', '*.credentials'], censor: '[redacted]' },
  });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
