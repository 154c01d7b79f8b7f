/** Codes the adapter gives failures that never got an answer from the sidecar. */
export const clientErrorCodes = {
  /** No answer within `timeoutMs` (status 504). The SDK request itself keeps running. */
  timeout: 'ERR_CLIENT_TIMEOUT',
  /** The sidecar could not be reached: connection refused/reset, or never started (status 503). */
  unreachable: 'ERR_SIDECAR_UNREACHABLE',
} as const;

export interface DaprErrorOptions {
  /** Dapr's own code (`ERR_STATE_SAVE`, `ERR_DIRECT_INVOKE`…) or one of `clientErrorCodes`. */
  errorCode?: string;
  /** The parsed error body: Dapr's `{errorCode, message}` or, for invoke, the app's own answer. */
  body?: unknown;
  cause?: unknown;
}

/** A failed Dapr call, whatever form the SDK reported it in (thrown JSON string, `{ error }`…). */
export class DaprError extends Error {
  readonly status: number;
  readonly errorCode?: string;
  readonly body?: unknown;

  constructor(status: number, message: string, options: DaprErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'DaprError';
    this.status = status;
    this.errorCode = options.errorCode;
    this.body = options.body;
  }
}

/**
 * A save or delete lost an optimistic-concurrency race (docs/dapr-behaviour.md §3.3, §3.7): 409, or the
 * postgres stores' 500 `no item was updated` for first-write without an etag on an existing key
 * (§3.4). Transactions cannot tell: their conflicts are a plain 500 ERR_STATE_TRANSACTION (§3.8).
 */
export function isEtagMismatch(error: unknown): error is DaprError {
  if (!(error instanceof DaprError)) return false;
  if (error.status === 409) return error.errorCode?.startsWith('ERR_STATE_') ?? false;
  return (
    error.status === 500 &&
    error.errorCode === 'ERR_STATE_SAVE' &&
    error.message.includes('no item was updated')
  );
}

/**
 * Worth trying again later (answer 503 upstream): no answer, sidecar unreachable, a 502/503/504,
 * or Dapr failing to reach the target app (500 ERR_DIRECT_INVOKE: target down, circuit open,
 * resiliency timeout; docs/dapr-behaviour.md §2.3).
 */
export function isUnavailable(error: unknown): error is DaprError {
  if (!(error instanceof DaprError)) return false;
  if ([502, 503, 504].includes(error.status)) return true;
  return error.status === 500 && error.errorCode === 'ERR_DIRECT_INVOKE';
}

/**
 * Turns what the SDK threw or returned as `{ error }` into a DaprError: a non-2xx answer is an
 * `Error` whose message is the JSON `{"error":statusText,"error_msg":rawBody,"status":n}`
 * (docs/dapr-behaviour.md §7); a network failure is node-fetch's FetchError. Anything else (a bug, such as a
 * GET with a body) is returned as it is.
 */
export function toDaprError(error: unknown, call: string): unknown {
  if (error instanceof DaprError || !(error instanceof Error)) return error;
  const answer = parseJson(error.message) as { error?: unknown; error_msg?: unknown } | undefined;
  const status = (answer as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number') {
    const raw = typeof answer?.error_msg === 'string' ? answer.error_msg : '';
    const body = raw === '' ? undefined : (parseJson(raw) ?? raw);
    const { errorCode, message } = (body ?? {}) as { errorCode?: unknown; message?: unknown };
    const code = typeof errorCode === 'string' ? errorCode : undefined;
    const detail = typeof message === 'string' ? message : String(answer?.error ?? '');
    return new DaprError(
      status,
      `${call} failed with ${status}${code ? ` ${code}` : ''}: ${detail}`,
      {
        errorCode: code,
        body,
        cause: error,
      },
    );
  }
  if (error.name === 'FetchError' || error.message === 'DAPR_SIDECAR_COULD_NOT_BE_STARTED') {
    return new DaprError(
      503,
      `${call} failed: the Dapr sidecar is unreachable (${error.message})`,
      {
        errorCode: clientErrorCodes.unreachable,
        cause: error,
      },
    );
  }
  return error;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
