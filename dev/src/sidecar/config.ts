import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65_535);
const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The dev sidecar's process settings, named after daprd's flags and environment where daprd has
 * one (DAPR_HTTP_PORT, APP_PORT, DAPR_API_TOKEN, APP_API_TOKEN, NAMESPACE).
 */
const schema = z.object({
  APP_ID: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS label, like a k8s app id'),
  DAPR_HTTP_PORT: port.default(3500),
  /** Sidecar-to-sidecar invocation (daprd's 50002); 0 = a free port. */
  DAPR_INTERNAL_PORT: port.default(0),
  APP_PORT: port.optional(),
  APP_HOST: z.string().min(1).default('127.0.0.1'),
  DAPR_API_TOKEN: z.string().min(1).optional(),
  APP_API_TOKEN: z.string().min(1).optional(),
  /** Sidecar-to-sidecar calls carry it; one per stack (daprd uses mTLS). Unset = none accepted. */
  SIDECAR_INTERNAL_TOKEN: z.string().min(16).optional(),
  NAMESPACE: z.string().min(1).optional(),
  /** daprd `--resources-path`, comma-separated for several folders. */
  DAPR_RESOURCES_PATH: z.string().min(1),
  /** daprd `--config` (the k8s annotation dapr.io/config). */
  DAPR_CONFIG: z.string().min(1).optional(),
  DAPR_SECRETS_FILE: z.string().min(1).optional(),
  /** The dev stack's database: name registry and pub/sub broker. */
  SIDECAR_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  SIDECAR_INSTANCE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(levels).default('info'),
});

export type SidecarProcessConfig = z.output<typeof schema>;

export function loadSidecarConfig(
  env: Record<string, string | undefined> = process.env,
): SidecarProcessConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`,
  );
  throw new Error(`Invalid dev sidecar configuration:\n${problems.join('\n')}`);
}

/** What `envRef` component metadata may read. */
export const sidecarEnvironment = (): Record<string, string | undefined> => ({ ...process.env });
