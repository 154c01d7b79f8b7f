import type { Middleware } from 'koa';
import { forbidden, unauthorized } from '../errors.ts';
import type { AuthUser, TokenVerifier } from './verify-token.ts';

declare module 'koa' {
  interface DefaultState {
    /** Set by requireUser. */
    user?: AuthUser;
  }
}

// Auth schemes are case-insensitive and may be followed by several spaces (RFC 9110 §11.1).
const bearerPattern = /^bearer +([\w-]+\.[\w-]*\.[\w-]*)$/i;

/** Lets a request through only with a valid access token; puts its user on `ctx.state.user`. */
export function requireUser(verify: TokenVerifier): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    if (!header) throw unauthorized('missing-token', 'Sign in: this route needs a bearer token');
    const match = bearerPattern.exec(header);
    if (!match) throw unauthorized('invalid-token', 'The Authorization header is not a bearer JWT');
    ctx.state.user = await verify(match[1]!);
    await next();
  };
}

/** Lets a signed-in user through only with one of these roles; use after requireUser. */
export function requireRole(...roles: string[]): Middleware {
  return async (ctx, next) => {
    const user = ctx.state.user;
    if (!user) throw unauthorized('missing-token', 'Sign in: this route needs a bearer token');
    if (!roles.some((role) => user.roles.includes(role))) {
      throw forbidden(`This needs one of the roles: ${roles.join(', ')}`);
    }
    await next();
  };
}

/** The signed-in user of a request behind requireUser. */
export function currentUser(state: { user?: AuthUser }): AuthUser {
  if (!state.user) throw unauthorized('missing-token', 'Sign in: this route needs a bearer token');
  return state.user;
}
