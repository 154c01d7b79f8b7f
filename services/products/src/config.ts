import {
  baseConfigSchema,
  daprConfigSchema,
  loadConfig,
  rateLimitSetting,
} from '@sidecart/chassis';
import { z } from 'zod';

const flag = z
  .enum(['0', '1', 'true', 'false'])
  .transform((value) => value === '1' || value === 'true');

/** Local development only: seed a small demo catalog once (dev/src/stack/services.ts sets it). */
const demoCatalog = { SEED_DEMO_CATALOG: flag.default(false) };

const demoIsLocal = {
  check: (env: { SEED_DEMO_CATALOG: boolean; NODE_ENV: string }) =>
    !(env.SEED_DEMO_CATALOG && env.NODE_ENV === 'production'),
  params: {
    message: 'the demo catalog is for local development only, never with NODE_ENV=production',
    path: ['SEED_DEMO_CATALOG'],
  },
};

export const productsConfigSchema = baseConfigSchema.extend(daprConfigSchema.shape).extend({
  /** Tokens are checked against auth's JWKS, read through Dapr invocation of this app id. */
  AUTH_APP_ID: z.string().min(1).default('auth'),
  AUTH_JWKS_PATH: z.string().startsWith('/').default('/api/auth/.well-known/jwks.json'),
  AUTH_ISSUER: z.string().min(1).default('sidecart-auth'),
  AUTH_AUDIENCE: z.string().min(1).default('sidecart'),
  /** The only app id allowed to call /internal/** (the Dapr access control says the same). */
  INTERNAL_CALLER_APP_ID: z.string().min(1).default('orders'),
  /** Reservation statements at most running at once per replica; the rest queue as one batch. */
  RESERVE_STATEMENTS_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(1),
  /** How many products the read cache holds; 0 turns it off. */
  PRODUCT_CACHE_ENTRIES: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  /** Catalog writes per signed-in user (`limit/windowSeconds[/blockSeconds]`), all replicas together. */
  RATE_LIMIT_PRODUCT_WRITES: rateLimitSetting.prefault('300/60'),
});

export type ProductsConfig = ReturnType<typeof loadProductsConfig>;

export const loadProductsConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(productsConfigSchema, env);

/** The migration job needs the database, and seeds the demo catalog when asked to. */
export const loadMigrateConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(
    baseConfigSchema
      .pick({ DATABASE_URL: true, LOG_LEVEL: true, NODE_ENV: true })
      .extend(demoCatalog)
      .refine(demoIsLocal.check, demoIsLocal.params),
    env,
  );
