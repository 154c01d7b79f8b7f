import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { unauthorized } from '@sidecart/chassis';
import { v7 as uuidv7 } from 'uuid';
import type { SigningKey } from '../keys/signing-key.ts';
import { User } from '../users/user.entity.ts';
import { signAccessToken, type TokenSettings } from './access-token.ts';
import { verifyPassword } from './passwords.ts';
import { RefreshToken } from './refresh-token.entity.ts';

export interface TokenDeps {
  key: SigningKey;
  settings: TokenSettings;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function logIn(em: EntityManager, deps: TokenDeps, email: string, password: string) {
  const user = await em.findOne(User, { email }, { populate: ['passwordHash'] });
  if (!(await verifyPassword(user?.passwordHash, password)) || !user) {
    // A generic login error, so the response does not reveal which emails are registered.
    throw unauthorized('invalid-credentials', 'Wrong email or password');
  }
  return issueTokens(em, deps, user, uuidv7());
}

/** Rotates a refresh token; presenting a used or revoked one revokes its whole family. */
export async function refreshTokens(em: EntityManager, deps: TokenDeps, presented: string) {
  const tokenHash = hashToken(presented);
  const outcome = await em.transactional(async (tx) => {
    const now = new Date();
    // One conditional update decides the race between two refreshes of the same token.
    const claimed = await tx.nativeUpdate(
      RefreshToken,
      { tokenHash, usedAt: null, revokedAt: null, expiresAt: { $gt: now } },
      { usedAt: now },
    );
    const token = await tx.findOne(RefreshToken, { tokenHash }, { populate: ['user'] });
    if (!token) return { failure: 'unknown' } as const;
    if (claimed === 1) return { tokens: await issueTokens(tx, deps, token.user, token.familyId) };
    if (token.usedAt || token.revokedAt) {
      await revokeFamily(tx, token.familyId);
      return { failure: 'reused' } as const;
    }
    return { failure: 'expired' } as const;
  });
  if (outcome.tokens) return outcome.tokens;
  throw outcome.failure === 'reused'
    ? unauthorized('refresh-token-reused', 'This refresh token was used before; sign in again')
    : unauthorized('invalid-refresh-token', 'The refresh token is not valid; sign in again');
}

/** Ends the session the refresh token belongs to; unknown tokens are ignored (nothing to reveal). */
export async function logOut(em: EntityManager, presented: string): Promise<void> {
  const token = await em.findOne(RefreshToken, { tokenHash: hashToken(presented) });
  if (token) await revokeFamily(em, token.familyId);
}

async function revokeFamily(em: EntityManager, familyId: string) {
  await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
}

async function issueTokens(
  em: EntityManager,
  deps: TokenDeps,
  user: User,
  familyId: string,
): Promise<IssuedTokens> {
  const refreshToken = randomBytes(32).toString('base64url');
  em.create(RefreshToken, {
    tokenHash: hashToken(refreshToken),
    familyId,
    user,
    expiresAt: new Date(Date.now() + deps.settings.refreshTtlSeconds * 1000),
  });
  await em.flush();
  return {
    accessToken: signAccessToken(user, deps.key, deps.settings),
    refreshToken,
    tokenType: 'Bearer',
    expiresIn: deps.settings.accessTtlSeconds,
  };
}
