import {
  badRequestDetail,
  daprError,
  errorInfo,
  resourceInfo,
  richError,
  type ApiResponse,
} from '../api.ts';

/** A store failure that a retry cannot fix; resiliency policies never repeat it. */
export class PermanentError extends Error {}

/** components-contrib's `state.ETagError`: 409 when `mismatch`, 400 when `invalid` (§3.3). */
export class EtagError extends PermanentError {
  readonly kind: 'mismatch' | 'invalid';

  constructor(kind: 'mismatch' | 'invalid', cause?: string) {
    const prefix =
      kind === 'mismatch' ? 'possible etag mismatch. error from state store' : 'invalid etag value';
    super(cause === undefined ? prefix : `${prefix}: ${cause}`);
    this.kind = kind;
  }
}

/** The HTTP status and message daprd derives from a store error (`stateErrorResponse`). */
export function stateErrorStatus(error: unknown): { status: number; message: string } {
  if (error instanceof EtagError) {
    return { status: error.kind === 'mismatch' ? 409 : 400, message: error.message };
  }
  return { status: 500, message: causeOf(error) };
}

/** An error's text as daprd prints it; PostgreSQL errors in pgx's `ERROR: … (SQLSTATE x)` form. */
export function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { severity, code } = error as Error & { severity?: string; code?: string };
  if (severity && code && /^[0-9A-Z]{5}$/.test(code)) {
    return `${severity}: ${error.message} (SQLSTATE ${code})`;
  }
  return error.message;
}

/** No state store at all (dapr:pkg/api/errors/state.go NotConfigured). */
export const storeNotConfigured = (store: string, appId: string): ApiResponse =>
  richError(500, 'ERR_STATE_STORE_NOT_CONFIGURED', `state store ${store} is not configured`, [
    errorInfo('DAPR_STATE_NOT_CONFIGURED', { appID: appId }),
  ]);

/** An unknown store name (docs/dapr-behaviour.md §3.1). */
export const storeNotFound = (store: string, appId: string): ApiResponse =>
  richError(400, 'ERR_STATE_STORE_NOT_FOUND', `state store ${store} is not found`, [
    errorInfo('DAPR_STATE_NOT_FOUND', { appID: appId }),
  ]);

/**
 * A key with `||` (docs/dapr-behaviour.md §3.2). Details in daprd's order: BadRequest, ResourceInfo,
 * ErrorInfo; an ErrorInfo without metadata is encoded by daprd with `"metadata": null`.
 */
export const illegalKey = (store: string, field: string, message: string): ApiResponse =>
  richError(400, 'ERR_MALFORMED_REQUEST', message, [
    badRequestDetail(field, message),
    resourceInfo('state', store, ''),
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      domain: 'dapr.io',
      metadata: null,
      reason: 'DAPR_STATE_ILLEGAL_KEY',
    },
  ]);

export const malformedRequest = (message: string): ApiResponse =>
  daprError(400, 'ERR_MALFORMED_REQUEST', message);
