import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { SigningKey } from '../keys/signing-key.ts';
import type { User } from '../users/user.entity.ts';

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

/** A short-lived RS256 access token: other services verify it locally with our JWKS. */
export function signAccessToken(user: User, key: SigningKey, settings: TokenSettings): string {
  return jwt.sign({ roles: user.roles }, key.privateKey, {
    algorithm: 'RS256',
    keyid: key.kid,
    issuer: settings.issuer,
    audience: settings.audience,
    subject: user.id,
    expiresIn: settings.accessTtlSeconds,
    jwtid: randomUUID(),
  });
}
