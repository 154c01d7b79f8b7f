import os from 'node:os';
import path from 'node:path';

/**
 * Where reference binaries (daprd, tilt, helm) are built and kept: outside the repository, so a
 * fresh clone or `npm run reset` keeps them, and nothing of their sources lands in a commit.
 */
export const referenceCacheDir = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'sidecart',
);

/** A daprd the user already has (e.g. `~/.dapr/bin/daprd` from `dapr init --slim`): wins. */
export const daprdFromEnv = (): string | undefined => process.env.SIDECART_DAPRD || undefined;

/** The environment `go` runs in: the user's own GOPROXY, GOFLAGS, GOPATH and so on. */
export const goEnvironment = (): Record<string, string | undefined> => ({ ...process.env });

/**
 * What the daprd launcher (daprd-sidecar.ts) gets from the local runtime: the dev sidecar's
 * variables where they mean the same (APP_ID, APP_PORT, DAPR_HTTP_PORT, LOG_LEVEL; daprd itself
 * reads DAPR_API_TOKEN, APP_API_TOKEN and NAMESPACE), plus where daprd and its files are.
 */
export function daprdSidecarConfig(env = process.env) {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`the daprd launcher needs ${name}`);
    return value;
  };
  return {
    daprd: required('DAPRD_PATH'),
    appId: required('APP_ID'),
    appPort: env.APP_PORT ? Number(env.APP_PORT) : undefined,
    httpPort: Number(required('DAPR_HTTP_PORT')),
    resourcesPath: required('DAPRD_RESOURCES_PATH'),
    configFile: required('DAPRD_CONFIG_FILE'),
    logLevel: env.LOG_LEVEL,
  };
}
