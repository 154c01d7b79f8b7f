import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
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
}

export type TokenVerifier = (token: string) => Promise<AuthUser>;

/** Only RS256 is ever accepted: this pin is what defeats `alg: none` and HS256-with-public-key. */
const algorithms: jwt.Algorithm[] = ['RS256'];

export const unknownKey = (kid: string) =>
  unauthorized('invalid-token', `The token was signed by an unknown key (${kid.slice(0, 64)})`);

/** Verifies an RS256 access token (signature, `kid`, `iss`, `aud`, `exp`) and reads its user. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  return async (token) => {
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
      return toAuthUser(claims);
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
