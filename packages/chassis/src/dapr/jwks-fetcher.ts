import type { Dapr } from './client.ts';

/**
 * A `fetcher` for jwksKeyResolver that reads the key set through Dapr invocation of `appId`: only
 * the path (and query) of the JWKS URI is used, so `http://auth/api/auth/.well-known/jwks.json`
 * means "method api/auth/.well-known/jwks.json of app auth" in every environment.
 */
export function daprJwksFetcher(dapr: Pick<Dapr, 'invoke'>, appId: string) {
  return async (uri: string): Promise<{ keys: unknown }> => {
    const { pathname, search } = new URL(uri);
    const jwks = await dapr.invoke<{ keys?: unknown }>(appId, `${pathname.slice(1)}${search}`);
    if (!Array.isArray(jwks?.keys)) throw new Error(`${appId} answered no key set at ${pathname}`);
    return { keys: jwks.keys };
  };
}
