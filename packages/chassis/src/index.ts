// Brings koa-body's typing of ctx.request.body to every service.
export type {} from 'koa-body';
export {
  batchesInFlight,
  registerBatchMetrics,
  type BatchCounts,
  type BatchesInFlight,
  type BatchesInFlightOptions,
  type BatchMetricNames,
} from './batches.ts';
export { createApp, type CreateAppOptions, type ServiceApp } from './app.ts';
export { baseConfigSchema, ConfigError, daprConfigSchema, loadConfig } from './config.ts';
export * from './errors.ts';
export { createLogger, type Logger } from './logger.ts';
export { serve, startService, type RunningServer, type ServeOptions } from './server.ts';
export { etagOf, requireIfMatch } from './http/etag.ts';
export type { Lifecycle, ReadinessCheck } from './http/health.ts';
export { toAppError, writeProblem } from './http/problem.ts';
export { clientAddress, defaultTrustedProxies, trustedProxies } from './http/client-address.ts';
export {
  byClientAddress,
  byUser,
  createRateLimits,
  rateLimitSetting,
  trustedProxiesSetting,
  type RateLimitRule,
  type RateLimits,
  type RateLimitsOptions,
} from './http/rate-limit.ts';
export { rateLimitMigrations } from './http/rate-limit.migration.ts';
export {
  createOrm,
  databaseCheck,
  migrate,
  MikroORM,
  ormRequestContext,
  type OrmOptions,
} from './orm/orm.ts';
export { runMigrateCommand, type MigrateCommandOptions } from './orm/migrate-command.ts';
export { runPrepared, type PreparedStatement } from './orm/prepared.ts';
export { jwksKeyResolver, type JwksResolverOptions } from './auth/jwks.ts';
export { currentUser, requireRole, requireUser } from './auth/require-user.ts';
export {
  createTokenVerifier,
  unknownKey,
  type AuthUser,
  type KeyResolver,
  type TokenVerifier,
} from './auth/verify-token.ts';
export {
  createDaprClient,
  type Dapr,
  type DaprClientOptions,
  type InvokeOptions,
  type PublishOptions,
  type BulkPublishEntry,
  type BulkPublishFailure,
  type StateItem,
  type StateOperation,
} from './dapr/client.ts';
export {
  clientErrorCodes,
  DaprError,
  isEtagMismatch,
  isUnavailable,
  type DaprErrorOptions,
} from './dapr/errors.ts';
export { daprJwksFetcher } from './dapr/jwks-fetcher.ts';
export {
  daprSubscriptions,
  deadLetterTopicOf,
  defineSubscription,
  type DaprEvent,
  type DaprSubscriptionsOptions,
  type HandlerOutcome,
  type Subscription,
} from './dapr/subscriptions.ts';
export { handleOnce, InboxEvent, type HandleResult } from './messaging/inbox.ts';
export { messagingEntities, messagingMigration } from './messaging/migration.ts';
export {
  OutboxEvent,
  outboxRow,
  recordEvent,
  type OutboxRow,
  type RecordedEvent,
} from './messaging/outbox.ts';
export {
  nudgeOutboxRelays,
  publishWithDapr,
  startOutboxRelay,
  type BatchPublisher,
  type OutboxRelay,
  type OutboxRelayOptions,
  type PublishEvent,
  type RelayedEvent,
} from './messaging/outbox-relay.ts';
