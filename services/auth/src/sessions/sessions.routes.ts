import Router from '@koa/router';
import type { MikroORM } from '@sidecart/chassis';
import type { AuthRateLimits } from '../rate-limits.ts';
import { loginBody, refreshTokenBody } from './sessions.schemas.ts';
import { logIn, logOut, refreshTokens, type TokenDeps } from './sessions.use-cases.ts';

export function sessionsRoutes(orm: MikroORM, deps: TokenDeps, limits: AuthRateLimits): Router {
  const em = () => orm.em;
  const router = new Router({ prefix: '/api/auth' });

  router.post('/login', limits.login, async (ctx) => {
    const { email, password } = loginBody.parse(ctx.request.body);
    ctx.set('cache-control', 'no-store');
    ctx.body = await logIn(em(), deps, email, password);
  });

  router.post('/refresh', limits.refresh, async (ctx) => {
    const { refreshToken } = refreshTokenBody.parse(ctx.request.body);
    ctx.set('cache-control', 'no-store');
    ctx.body = await refreshTokens(em(), deps, refreshToken);
  });

  router.post('/logout', async (ctx) => {
    const { refreshToken } = refreshTokenBody.parse(ctx.request.body);
    await logOut(em(), refreshToken);
    ctx.status = 204;
  });

  return router;
}
