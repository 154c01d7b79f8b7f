// Brings koa-body's typing of ctx.request.body to every service.
export type {} from 'koa-body';
export { createApp, type CreateAppOptions, type ServiceApp } from './app.ts';
export { baseConfigSchema, ConfigError, loadConfig } from './config.ts';
export * from './errors.ts';
export { createLogger, type Logger } from './logger.ts';
export { serve, startService, type RunningServer, type ServeOptions } from './server.ts';
export { etagOf, requireIfMatch } from './http/etag.ts';
export type { Lifecycle, ReadinessCheck } from './http/health.ts';
export { toAppError, writeProblem } from './http/problem.ts';
export {
  createOrm,
  databaseCheck,
  migrate,
  MikroORM,
  ormRequestContext,
  type OrmOptions,
} from './orm/orm.ts';
export { jwksKeyResolver, type JwksResolverOptions } from './auth/jwks.ts';
export { currentUser, requireRole, requireUser } from './auth/require-user.ts';
export {
  createTokenVerifier,
  unknownKey,
  type AuthUser,
  type KeyResolver,
  type TokenVerifier,
} from './auth/verify-token.ts';
