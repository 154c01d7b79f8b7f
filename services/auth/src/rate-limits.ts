import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import {
  byClientAddress,
  createRateLimits,
  type Logger,
  type MikroORM,
  type RateLimitRule,
} from '@sidecart/chassis';
import type { AuthConfig } from './config.ts';

export interface AuthRateLimits {
  login: Middleware;
  register: Middleware;
  refresh: Middleware;
}

/**
 * auth's limits, checked before any password is hashed or verified, so a flood costs no argon2.
 * Login counts failures only: per address (spraying many accounts), per account and address
 * (guessing one password; a good login forgives it), and per account from anywhere with a
 * threshold ten times higher (a botnet), so that an attacker on one address never locks the
 * owner out on another.
 */
export function authRateLimits(orm: MikroORM, config: AuthConfig, logger: Logger): AuthRateLimits {
  const limits = createRateLimits(orm, { logger });
  const address = byClientAddress(config.TRUSTED_PROXIES);
  const accountAndAddress = (ctx: Context) => {
    const account = emailOf(ctx);
    return account === undefined ? undefined : `${account} ${address(ctx)}`;
  };
  const failures = { count: 'failures' } as const;
  const rule = (
    name: string,
    setting: AuthConfig['RATE_LIMIT_LOGIN_ADDRESS'],
    key: RateLimitRule['key'],
    extra: Partial<RateLimitRule> = {},
  ): RateLimitRule => ({ name, ...setting, key, ...extra });
  return {
    login: limits.limit(
      rule('login-address', config.RATE_LIMIT_LOGIN_ADDRESS, address, failures),
      rule('login-account-address', config.RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS, accountAndAddress, {
        ...failures,
        resetOnSuccess: true,
      }),
      rule('login-account', config.RATE_LIMIT_LOGIN_ACCOUNT, emailOf, failures),
    ),
    // Every attempt counts: each one hashes a password, and a 409 tells whether an email exists.
    register: limits.limit(
      rule('register-address', config.RATE_LIMIT_REGISTER_ADDRESS, address),
      rule('register-account', config.RATE_LIMIT_REGISTER_ACCOUNT, emailOf),
    ),
    refresh: limits.limit(
      rule('refresh-address', config.RATE_LIMIT_REFRESH_ADDRESS, address),
      rule('refresh-token', config.RATE_LIMIT_REFRESH_TOKEN, refreshTokenOf),
    ),
  };
}

/** The account a body names, normalised as the schemas do; bodies without one skip the rule. */
function emailOf(ctx: Context): string | undefined {
  const email = (ctx.request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? email.trim().toLowerCase() : undefined;
}

/** The session a refresh names (its hash: the token itself never reaches storage). */
function refreshTokenOf(ctx: Context): string | undefined {
  const token = (ctx.request.body as { refreshToken?: unknown } | undefined)?.refreshToken;
  return typeof token === 'string' ? createHash('sha256').update(token).digest('hex') : undefined;
}
