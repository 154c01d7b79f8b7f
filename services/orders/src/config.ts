import {
  baseConfigSchema,
  daprConfigSchema,
  loadConfig,
  rateLimitSetting,
} from '@sidecart/chassis';
import { z } from 'zod';

const milliseconds = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

export const ordersConfigSchema = baseConfigSchema.extend(daprConfigSchema.shape).extend({
  /** Tokens are auth's: verified locally with its public keys (JWKS, through Dapr). */
  AUTH_APP_ID: z.string().min(1).default('auth'),
  AUTH_JWKS_PATH: z.string().startsWith('/').default('/api/auth/.well-known/jwks.json'),
  AUTH_ISSUER: z.string().min(1).default('sidecart-auth'),
  AUTH_AUDIENCE: z.string().min(1).default('sidecart'),
  PRODUCTS_APP_ID: z.string().min(1).default('products'),
  STATESTORE_NAME: z.string().min(1).default('statestore'),
  /** The circuit breaker's deadline for one call to products (reserve, lookup). */
  PRODUCTS_TIMEOUT_MS: milliseconds(3_000),
  /**
   * Reserve calls to products at most in flight per replica; the reservations that come meanwhile
   * wait for one to return and leave together as one batch (ADR 0016).
   */
  RESERVE_CALLS_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(1),
  /** How long an open breaker refuses calls before it lets one probe through. */
  BREAKER_RESET_MS: milliseconds(5_000),
  /** The sweeper looks at pending orders older than this ... */
  SWEEP_AFTER_MS: milliseconds(5_000),
  /** ... every this often ... */
  SWEEP_INTERVAL_MS: milliseconds(1_000),
  /** ... and fails those it could not settle within this age (products stays unreachable). */
  PENDING_MAX_AGE_MS: milliseconds(30_000),
  /** Orders placed (POST /orders, checkout) per user: `limit/windowSeconds[/blockSeconds]`. */
  RATE_LIMIT_PLACE_ORDER: rateLimitSetting.prefault('60/60'),
});

export type OrdersConfig = z.output<typeof ordersConfigSchema>;

export const loadOrdersConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(ordersConfigSchema, env);

/** The migration job needs only the database. */
export const loadMigrateConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(baseConfigSchema.pick({ DATABASE_URL: true, LOG_LEVEL: true }), env);
