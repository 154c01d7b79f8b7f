import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Secrets that must never reach a log line, wherever they appear in a logged object. */
const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["dapr-api-token"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["dapr-api-token"]',
  '*.password',
  '*.passwordHash',
  '*.refreshToken',
  '*.accessToken',
  '*.token',
  '*.tokenHash',
  '*.privateKey',
];

/**
 * PostgreSQL errors quote the offending values: `detail` ("Key (email)=(…) already exists"),
 * which MikroORM also appends to the message, and the statement or its parameters in some
 * drivers. A unique token hash or a password hash would reach the log through them.
 */
const valueBearingFields = [
  'detail',
  'where',
  'query',
  'sql',
  'params',
  'parameters',
  'internalQuery',
];
const appendedDetail = /\n - detail: [^\n]*/g;

function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown;
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  const fields = serialized as Record<string, unknown>;
  for (const field of valueBearingFields) delete fields[field];
  for (const field of ['message', 'stack']) {
    if (typeof fields[field] === 'string')
      fields[field] = fields[field].replace(appendedDetail, '');
  }
  return fields;
}

/** A JSON logger on stdout, one per process; requests get children with their ids. */
export function createLogger(service: string, level: LevelWithSilent, replica?: string): Logger {
  return pino({
    level,
    base: { service, ...(replica ? { replica } : {}) },
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: { err: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
