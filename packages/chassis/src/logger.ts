import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Secrets that must never reach a log line, wherever they appear in a logged object. */
const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.refreshToken',
  '*.accessToken',
  '*.privateKey',
];

/** A JSON logger on stdout, one per process; requests get children with their ids. */
export function createLogger(service: string, level: LevelWithSilent, replica?: string): Logger {
  return pino({
    level,
    base: { service, ...(replica ? { replica } : {}) },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
