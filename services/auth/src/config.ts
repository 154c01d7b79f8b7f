import {
  baseConfigSchema,
  daprConfigSchema,
  defaultTrustedProxies,
  loadConfig,
  rateLimitSetting,
  trustedProxiesSetting,
} from '@sidecart/chassis';
import { z } from 'zod';

export const authConfigSchema = baseConfigSchema
  // The sidecar is used only by the outbox relay, which main.ts starts: tests need none.
  .extend(daprConfigSchema.shape)
  .extend({
    /** PEM (PKCS#8) RSA private key, inline (a Kubernetes Secret as env) ... */
    AUTH_PRIVATE_KEY: z.string().min(1).optional(),
    /** ... or as a file (a mounted Secret; locally `.data/keys/`). */
    AUTH_PRIVATE_KEY_FILE: z.string().min(1).optional(),
    AUTH_ISSUER: z.string().min(1).default('sidecart-auth'),
    AUTH_AUDIENCE: z.string().min(1).default('sidecart'),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
    REFRESH_TOKEN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .default(30 * 24 * 3600),
    /** The first admin; created at start-up when missing, never by self-registration. */
    ADMIN_EMAIL: z.email().toLowerCase().optional(),
    ADMIN_PASSWORD: z.string().min(12).max(256).optional(),
    /** Peers whose X-Forwarded-For is believed (the ingress); see services/auth/README.md. */
    TRUSTED_PROXIES: trustedProxiesSetting.prefault(defaultTrustedProxies.join(',')),
    // limit/windowSeconds[/blockSeconds]; every replica counts in the same table.
    RATE_LIMIT_LOGIN_ADDRESS: rateLimitSetting.prefault('100/3600/3600'),
    RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS: rateLimitSetting.prefault('5/900/900'),
    RATE_LIMIT_LOGIN_ACCOUNT: rateLimitSetting.prefault('50/3600/900'),
    RATE_LIMIT_REGISTER_ADDRESS: rateLimitSetting.prefault('10/3600'),
    RATE_LIMIT_REGISTER_ACCOUNT: rateLimitSetting.prefault('3/3600'),
    RATE_LIMIT_REFRESH_ADDRESS: rateLimitSetting.prefault('60/60'),
    RATE_LIMIT_REFRESH_TOKEN: rateLimitSetting.prefault('10/60'),
  })
  .refine((env) => Boolean(env.AUTH_PRIVATE_KEY) !== Boolean(env.AUTH_PRIVATE_KEY_FILE), {
    message: 'set exactly one of AUTH_PRIVATE_KEY and AUTH_PRIVATE_KEY_FILE',
    path: ['AUTH_PRIVATE_KEY_FILE'],
  })
  .refine((env) => Boolean(env.ADMIN_EMAIL) === Boolean(env.ADMIN_PASSWORD), {
    message: 'set both ADMIN_EMAIL and ADMIN_PASSWORD, or neither',
    path: ['ADMIN_PASSWORD'],
  });

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export const loadAuthConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(authConfigSchema, env);

/** The migration job needs only the database. */
export const loadMigrateConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(baseConfigSchema.pick({ DATABASE_URL: true, LOG_LEVEL: true }), env);
