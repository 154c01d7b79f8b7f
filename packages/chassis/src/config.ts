import { z } from 'zod';

/** Settings every service reads; a service extends this with its own. */
export const baseConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('production'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  /** Names this process in logs and metrics (the pod name in the cluster). */
  SERVICE_REPLICA: z.string().min(1).optional(),
  /** How long in-flight requests may take to finish after SIGTERM. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Largest JSON body accepted (bytes); larger ones get 413. */
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(64 * 1024),
});

/** The Dapr sidecar beside the service: `baseConfigSchema.extend(daprConfigSchema.shape)`. */
export const daprConfigSchema = z.object({
  DAPR_HOST: z.string().min(1).default('127.0.0.1'),
  DAPR_HTTP_PORT: z.coerce.number().int().min(1).max(65_535).default(3500),
  /** Sent to the sidecar on every call (its DAPR_API_TOKEN). */
  DAPR_API_TOKEN: z.string().min(1).optional(),
  /** What the sidecar sends us as `dapr-api-token` (its APP_API_TOKEN); checked when set. */
  APP_API_TOKEN: z.string().min(1).optional(),
  /** Deadline of each Dapr call (the SDK has none). */
  DAPR_TIMEOUT_MS: z.coerce.number().int().min(1).default(5_000),
  PUBSUB_NAME: z.string().min(1).default('pubsub'),
});

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  - ${line}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses the environment once at start-up; lists every problem at once instead of the first. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  // `PORT=` in a manifest means "not set": coerced, it would silently become port 0.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
  );
}
