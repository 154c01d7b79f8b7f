import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/** The repository root: services are started from here, `.data/` lives here by default. */
export const repoRoot = path.resolve(import.meta.dirname, '../../..');

export const usage = `Usage: npm start -- [options]   (or: node dev/src/start.ts [options])

  --replicas N       replicas per service (1-8, default 2)        env SIDECART_REPLICAS
  --port P           local ingress port (default 8080)              env SIDECART_PORT
  --data-dir DIR     PostgreSQL data, keys, logs, stack.json        env SIDECART_DATA_DIR
                     (default .data at the repository root)
  --services a,b     services to run (default: all in the catalog)  env SIDECART_SERVICES
  --pg-port P        preferred PostgreSQL port (default 54329;      env SIDECART_PG_PORT
                     a free one when it is taken)
  --logs             stream replica logs to the console, prefixed  env SIDECART_LOGS=1
  --unhealthy-limit S                                               env SIDECART_UNHEALTHY_LIMIT
                     kill and restart a replica (with its sidecar)
                     unhealthy and silent on /healthz for S seconds (default 10)
  --sidecar KIND     the sidecar beside each replica: dev (default,   env SIDECART_SIDECAR
                     ours) or daprd (real daprd: npm run reference:build)
  --daprd PATH       the daprd for --sidecar daprd (default: the one  env SIDECART_DAPRD
                     npm run reference:build keeps in ~/.cache/sidecart)
  -h, --help         show this help

  Also read: LOG_LEVEL (replicas, default info), ADMIN_EMAIL / ADMIN_PASSWORD (the first admin;
  local-development defaults admin@sidecart.local / admin-local-dev-password).`;

const sources: Record<string, string> = {
  replicas: '--replicas / SIDECART_REPLICAS',
  port: '--port / SIDECART_PORT',
  logLevel: 'LOG_LEVEL',
  postgresPort: '--pg-port / SIDECART_PG_PORT',
  unhealthyLimitSeconds: '--unhealthy-limit / SIDECART_UNHEALTHY_LIMIT',
  sidecar: '--sidecar / SIDECART_SIDECAR',
  adminEmail: 'ADMIN_EMAIL',
  adminPassword: 'ADMIN_PASSWORD',
};

const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const schema = z.object({
  replicas: z.coerce.number().int().min(1).max(8),
  port: z.coerce.number().int().min(1).max(65_535),
  dataDir: z.string().min(1),
  services: z.string().transform((list) =>
    list
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  ),
  logs: z.boolean(),
  logLevel: z.enum(levels),
  postgresPort: z.coerce.number().int().min(1).max(65_535),
  unhealthyLimitSeconds: z.coerce.number().min(1).max(600),
  // Local-development-only credentials of the first admin; override them in your environment.
  adminEmail: z.email(),
  adminPassword: z.string().min(12),
  servicesDir: z.string().min(1),
  sidecar: z.enum(['dev', 'daprd']),
  /** Unset: SIDECART_DAPRD, then the cache (dev/src/reference/daprd-binary.ts). */
  daprd: z.string().min(1).optional(),
});

export type DevConfig = Omit<z.output<typeof schema>, 'services'> & {
  /** Names from the command line; empty means every service in the catalog. */
  services: string[];
  help: boolean;
};

/** Reads flags (which win) and environment once; throws a readable error on bad input. */
export function loadDevConfig(argv = process.argv.slice(2), env = process.env): DevConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      replicas: { type: 'string', short: 'r' },
      port: { type: 'string', short: 'p' },
      'data-dir': { type: 'string' },
      services: { type: 'string' },
      'pg-port': { type: 'string' },
      'unhealthy-limit': { type: 'string' },
      logs: { type: 'boolean' },
      sidecar: { type: 'string' },
      daprd: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const result = schema.safeParse({
    replicas: values.replicas ?? env.SIDECART_REPLICAS ?? 2,
    port: values.port ?? env.SIDECART_PORT ?? 8080,
    dataDir: path.resolve(
      values['data-dir'] ?? env.SIDECART_DATA_DIR ?? path.join(repoRoot, '.data'),
    ),
    services: values.services ?? env.SIDECART_SERVICES ?? '',
    logs: values.logs ?? ['1', 'true'].includes(env.SIDECART_LOGS ?? ''),
    logLevel: env.LOG_LEVEL ?? 'info',
    postgresPort: values['pg-port'] ?? env.SIDECART_PG_PORT ?? 54_329,
    unhealthyLimitSeconds: values['unhealthy-limit'] ?? env.SIDECART_UNHEALTHY_LIMIT ?? 10,
    adminEmail: env.ADMIN_EMAIL ?? 'admin@sidecart.local',
    adminPassword: env.ADMIN_PASSWORD ?? 'admin-local-dev-password',
    // Lets the runtime's own tests stand fixture apps in for the real services.
    servicesDir: path.resolve(env.SIDECART_SERVICES_DIR ?? path.join(repoRoot, 'services')),
    sidecar: values.sidecar ?? env.SIDECART_SIDECAR ?? 'dev',
    daprd: values.daprd,
  });
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `  ${sources[String(issue.path[0])] ?? issue.path.join('.')}: ${issue.message}`,
    );
    throw new Error(`invalid options:\n${problems.join('\n')}`);
  }
  return { ...result.data, help: values.help ?? false };
}

/**
 * Node's compile cache keeps each module's type-stripped source: a replica whose modules are all
 * cached never loads the TypeScript stripper (about 17 MiB resident per process) and starts faster.
 * Kept across runs and `npm run reset`; a changed file is simply stripped again.
 */
export const compileCacheDir = path.join(repoRoot, 'node_modules', '.cache', 'sidecart-node');

/**
 * V8 grows the young generation to 32 MiB per semi-space while a process loads its modules and
 * never shrinks it back when idle: some 30 MiB resident per replica for nothing. 4 MiB keeps an
 * app's scavenges rare under load (bench/README.md has the figures).
 */
export const appNodeOptions = '--max-semi-space-size=4';

/**
 * The environment replicas and migrations inherit (PATH, HOME, proxies...), with `nodeOptions`
 * before the user's own NODE_OPTIONS, which therefore win.
 */
export function inheritedEnv(nodeOptions = appNodeOptions): Record<string, string | undefined> {
  const own = process.env.NODE_OPTIONS;
  return {
    NODE_COMPILE_CACHE: compileCacheDir,
    ...process.env,
    NODE_OPTIONS: own ? `${nodeOptions} ${own}` : nodeOptions,
  };
}
