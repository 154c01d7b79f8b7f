/**
 * A failure of Dapr itself (not of the app): the caller answers ERR_DIRECT_INVOKE
 * `failed to invoke, id: <id>, err: <message>` with `status` (docs/dapr-behaviour.md §2.3).
 */
export class DirectInvokeError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'DirectInvokeError';
    this.status = status;
  }
}

/** The target sidecar could not be reached (daprd: gRPC Unavailable): built-in retries apply. */
export class UnreachableError extends DirectInvokeError {
  constructor(message: string) {
    super(500, message);
    this.name = 'UnreachableError';
  }
}

/**
 * Between sidecars, a failure of the callee sidecar (ACL denial, app channel error) travels as a
 * response with this header, whose value is the gRPC code daprd would have used, and a text body
 * holding the description. The caller sidecar consumes the header and turns it into a
 * DirectInvokeError, so it never reaches an app; the callee strips it from app responses.
 */
export const failureHeader = 'x-sidecart-invoke-failure';

/** `rpc error: code = <code> desc = <desc>`: how daprd quotes a callee's gRPC status. */
export function calleeFailure(code: string, description: string): DirectInvokeError {
  const status = code === 'PermissionDenied' ? 403 : 500;
  const message = `rpc error: code = ${code} desc = ${description}`;
  // daprd's built-in retries cover Unauthenticated too: a peer with another certificate (here:
  // another stack's secret on a reused port) is evicted from the cache and the call retried.
  return code === 'Unavailable' || code === 'Unauthenticated'
    ? new UnreachableError(message)
    : new DirectInvokeError(status, message);
}

const goNetErrors: Record<string, [op: string, text: string]> = {
  ECONNREFUSED: ['dial', 'connect: connection refused'],
  ECONNRESET: ['read', 'read: connection reset by peer'],
  EPIPE: ['write', 'write: broken pipe'],
  EHOSTUNREACH: ['dial', 'connect: no route to host'],
  ENETUNREACH: ['dial', 'connect: network is unreachable'],
  ETIMEDOUT: ['dial', 'i/o timeout'],
};

/** Connection-level failures: the peer is down, restarting or unreachable. */
export const isConnectionError = (error: unknown): error is NodeJS.ErrnoException =>
  Object.hasOwn(goNetErrors, (error as NodeJS.ErrnoException).code ?? '');

/** A socket error worded like Go's net package: `dial tcp 127.0.0.1:3000: connect: connection refused`. */
export function goNetError(error: Error, address: string): string {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const known = Object.hasOwn(goNetErrors, code) ? goNetErrors[code] : undefined;
  return known ? `${known[0]} tcp ${address}: ${known[1]}` : error.message;
}

/** Go's http.Client error: `Post "http://127.0.0.1:3000/orders": dial tcp …` (url.Error). */
export function goHttpError(method: string, url: string, cause: string): string {
  const op = method.charAt(0) + method.slice(1).toLowerCase();
  return `${op} "${url}": ${cause}`;
}
