// Not `import … from 'node:http'`: an ESM import of that builtin reads its lazy WebSocket export,
// which loads Node's bundled undici, about 14 MiB resident in every service (nodejs/node#59686).
const { STATUS_CODES } = process.getBuiltinModule('node:http');

export interface ProblemField {
  /** JSON pointer into the request (`/items/0/quantity`). */
  pointer: string;
  message: string;
  code: string;
}

/** One JSON-pointer segment (RFC 6901): `~` and `/` escaped. */
export const pointerSegment = (key: string | number) =>
  `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;

export interface AppErrorOptions {
  cause?: unknown;
  errors?: ProblemField[];
  headers?: Record<string, string>;
  /** Extra problem members (RFC 9457 extensions), e.g. the current version on a 412. */
  extensions?: Record<string, unknown>;
}

/** The one error type services throw: a stable kebab-case `code`, an HTTP status, a safe message. */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors?: ProblemField[];
  readonly headers?: Record<string, string>;
  readonly extensions?: Record<string, unknown>;

  constructor(status: number, code: string, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers;
    this.extensions = options.extensions;
  }

  get title(): string {
    return STATUS_CODES[this.status] ?? 'Error';
  }
}

export const badRequest = (code: string, message: string, options?: AppErrorOptions) =>
  new AppError(400, code, message, options);

export const unauthorized = (code: string, message: string, options?: AppErrorOptions) =>
  new AppError(401, code, message, {
    ...options,
    headers: { 'www-authenticate': `Bearer error="invalid_token"`, ...options?.headers },
  });

export const forbidden = (message = 'You are not allowed to do this', options?: AppErrorOptions) =>
  new AppError(403, 'forbidden', message, options);

export const notFound = (resource: string, id?: string | number) =>
  new AppError(
    404,
    'not-found',
    id === undefined ? `${resource} not found` : `${resource} ${id} not found`,
  );

export const conflict = (code: string, message: string, options?: AppErrorOptions) =>
  new AppError(409, code, message, options);

export const preconditionFailed = (message: string, options?: AppErrorOptions) =>
  new AppError(412, 'version-mismatch', message, options);

export const preconditionRequired = (message = 'This request must carry an If-Match header') =>
  new AppError(428, 'if-match-required', message);

export const unprocessable = (code: string, message: string, options?: AppErrorOptions) =>
  new AppError(422, code, message, options);

export const serviceUnavailable = (code: string, message: string, retryAfterSeconds = 1) =>
  new AppError(503, code, message, { headers: { 'retry-after': String(retryAfterSeconds) } });
