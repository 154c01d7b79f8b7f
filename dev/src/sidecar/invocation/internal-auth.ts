import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Sidecar-to-sidecar calls carry the stack's shared secret in this header: the internal port is
 * reachable by any local process, and the callee trusts the caller's identity headers (its ACL)
 * and attaches APP_API_TOKEN, so an unauthenticated call could forge pub/sub deliveries. daprd
 * authenticates this hop with mTLS (Sentry-issued SPIFFE certificates); a secret per stack is
 * the local stand-in. The callee removes it: apps never see it.
 */
export const internalTokenHeader = 'x-sidecart-internal-token';

/** A token nobody else holds: the sidecar then accepts no calls from other sidecars. */
export const privateInternalToken = (): string => randomBytes(24).toString('base64url');

/**
 * Whether a call on the internal port comes from a sidecar of this stack. `token` is the secret's
 * bytes, encoded once rather than on every call.
 */
export function isFromStackSidecar(headers: IncomingHttpHeaders, token: Buffer): boolean {
  const sent = headers[internalTokenHeader];
  if (typeof sent !== 'string') return false;
  const received = Buffer.from(sent);
  return received.length === token.length && timingSafeEqual(received, token);
}
