import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { AppError, unauthorized } from '../errors.ts';

/** Who is calling, as an access token says. */
export interface AuthUser {
  id: string;
  roles: string[];
}

/** Finds the public key for a `kid`; throws `unknownKey` when there is none. */
export type KeyResolver = (kid: string) => Promise<KeyObject | string>;

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  resolveKey: KeyResolver;
  /**
   * How long a verified token is taken as verified without checking its signature again (never
   * past its `exp`): a client sends one token with many requests. Default 60 s; 0 turns it off.
   */
  cacheMs?: number;
}

export type TokenVerifier = (token: string) => Promise<AuthUser>;

/** Only RS256 is ever accepted: this pin is what defeats `alg: none` and HS256-with-public-key. */
const algorithms: jwt.Algorithm[] = ['RS256'];

export const unknownKey = (kid: string) =>
  unauthorized('invalid-token', `The token was signed by an unknown key (${kid.slice(0, 64)})`);

/**
 * Verifies an RS256 access token (signature, `kid`, `iss`, `aud`, `exp`) and reads its user. A
 * token it verified is known again for `cacheMs`, by its whole text (signature included), until
 * its `exp`: the signature check was the largest part of a signed-in request's CPU (ADR 0016).
 * A key withdrawn from the JWKS therefore stops being trusted within `cacheMs`.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const cacheMs = options.cacheMs ?? 60_000;
  const verified = new LRUCache<string, { user: AuthUser; until: number }>({ max: 10_000 });
  const verifyToken = verifier(options);
  return async (token) => {
    const known = cacheMs > 0 ? verified.get(token) : undefined;
    if (known && Date.now() < known.until)
      return { id: known.user.id, roles: [...known.user.roles] };
    const { user, expiresAt } = await verifyToken(token);
    if (cacheMs > 0)
      verified.set(token, { user, until: Math.min(expiresAt, Date.now() + cacheMs) });
    return { id: user.id, roles: [...user.roles] };
  };
}

function verifier(options: TokenVerifierOptions) {
  return async (token: string): Promise<{ user: AuthUser; expiresAt: number }> => {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') {
      throw unauthorized('invalid-token', 'The token is not a JWT');
    }
    const { alg, kid } = decoded.header;
    if (!algorithms.includes(alg as jwt.Algorithm)) {
      throw unauthorized(
        'invalid-token',
        `Tokens signed with ${String(alg).slice(0, 16)} are not accepted`,
      );
    }
    if (typeof kid !== 'string' || kid.length === 0) {
      throw unauthorized('invalid-token', 'The token names no key (kid)');
    }
    const key = await options.resolveKey(kid);
    try {
      const claims = jwt.verify(token, key, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
      });
      return { user: toAuthUser(claims), expiresAt: expiryOf(claims) };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof jwt.TokenExpiredError) {
        throw unauthorized('token-expired', 'The token has expired', { cause: error });
      }
      throw unauthorized('invalid-token', `The token is not valid: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
}

function toAuthUser(claims: string | jwt.JwtPayload): AuthUser {
  if (
    typeof claims === 'string' ||
    typeof claims.sub !== 'string' ||
    !Array.isArray(claims.roles)
  ) {
    throw unauthorized('invalid-token', 'The token lacks its subject or roles');
  }
  const roles = claims.roles.filter((role): role is string => typeof role === 'string');
  return { id: claims.sub, roles };
}

/** When the token stops being valid (ms); a token without `exp` is not kept at all. */
const expiryOf = (claims: string | jwt.JwtPayload) =>
  typeof claims !== 'string' && typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
