import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { AppError, forbidden } from '@sidecart/chassis';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Internal routes answer only the Dapr sidecar (it sends APP_API_TOKEN as `dapr-api-token`) on
 * behalf of `callerAppId` (`dapr-caller-app-id`, set by the sidecar from the caller's identity).
 * Without a configured token nothing gets through: the caller header alone could be forged by
 * anyone who reaches the app's port.
 */
export function requireInternalCaller(
  appApiToken: string | undefined,
  callerAppId: string,
): Middleware {
  const expected = appApiToken ? digest(appApiToken) : undefined;
  return async (ctx, next) => {
    // Hashes make the compare length-blind.
    if (!expected || !timingSafeEqual(digest(ctx.get('dapr-api-token')), expected)) {
      throw new AppError(401, 'invalid-app-token', 'Internal routes are for the Dapr sidecar only');
    }
    if (ctx.get('dapr-caller-app-id') !== callerAppId) {
      throw forbidden(`Only ${callerAppId} may call internal routes`);
    }
    await next();
  };
}
