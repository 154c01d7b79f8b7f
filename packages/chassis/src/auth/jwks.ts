import { createPublicKey, type KeyObject } from 'node:crypto';
import jwksRsa from 'jwks-rsa';
import { AppError } from '../errors.ts';
import { unknownKey, type KeyResolver } from './verify-token.ts';

export interface JwksResolverOptions {
  /** Where auth's key set is served (through the Dapr sidecar once it exists). */
  jwksUri: string;
  /** Replaces plain HTTP, e.g. with a Dapr invocation. */
  fetcher?: (uri: string) => Promise<{ keys: unknown }>;
}

/**
 * Resolves keys from auth's JWKS: cached, fetched again for an unknown `kid` (a rotated key),
 * rate-limited so a flood of made-up kids cannot hammer auth.
 */
export function jwksKeyResolver(options: JwksResolverOptions): KeyResolver {
  const client = jwksRsa({
    jwksUri: options.jwksUri,
    fetcher: options.fetcher,
    cache: true,
    cacheMaxAge: 10 * 60_000,
    rateLimit: true,
    jwksRequestsPerMinute: 30,
    timeout: 5_000,
  });
  // jwks-rsa hands out PEM text, which jsonwebtoken would parse into a key on every verify: parse
  // each once. Only keys of the fetched key set get here, so this stays as small as that set.
  const parsed = new Map<string, KeyObject>();
  const keyObjectOf = (pem: string) => {
    let key = parsed.get(pem);
    if (!key) parsed.set(pem, (key = createPublicKey(pem)));
    return key;
  };
  return async (kid) => {
    try {
      const key = await client.getSigningKey(kid);
      return keyObjectOf(key.getPublicKey());
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'SigningKeyNotFoundError' || name === 'JwksRateLimitError')
        throw unknownKey(kid);
      throw new AppError(503, 'auth-unavailable', 'Tokens cannot be checked right now', {
        cause: error,
        headers: { 'retry-after': '1' },
      });
    }
  };
}
