import {
  createApp,
  createTokenVerifier,
  databaseCheck,
  ormRequestContext,
  type Logger,
  type MikroORM,
} from '@sidecart/chassis';
import type { AuthConfig } from './config.ts';
import { jwksRoutes } from './keys/jwks.routes.ts';
import { localKeyResolver, type SigningKey } from './keys/signing-key.ts';
import { authRateLimits } from './rate-limits.ts';
import { sessionsRoutes } from './sessions/sessions.routes.ts';
import { usersRoutes } from './users/users.routes.ts';

export interface AuthAppDeps {
  config: AuthConfig;
  orm: MikroORM;
  logger: Logger;
  key: SigningKey;
}

/** The auth service's Koa app, ready to listen (main.ts) or to be driven by tests. */
export function buildApp({ config, orm, logger, key }: AuthAppDeps) {
  const settings = {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
  };
  const verify = createTokenVerifier({ ...settings, resolveKey: localKeyResolver(key) });
  const limits = authRateLimits(orm, config, logger);
  return createApp({
    service: 'auth',
    logger,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readiness: { database: databaseCheck(orm) },
    middleware: [ormRequestContext(orm)],
    routers: [
      jwksRoutes(key),
      sessionsRoutes(orm, { key, settings }, limits),
      usersRoutes(orm, verify, limits),
    ],
  });
}
