import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inheritedEnv, repoRoot, type DevConfig } from './config.ts';

/** The dev sidecar's entry point; every replica gets one beside it. */
export const sidecarScript = path.join(repoRoot, 'dev', 'src', 'sidecar', 'main.ts');
/** The same Dapr resources the cluster applies (components/kustomization.yaml). */
export const componentsDir = path.join(repoRoot, 'components');
/** The Configuration every app runs with (the k8s annotation dapr.io/config). */
export const daprConfiguration = 'appconfig';
/**
 * A 4 MiB young generation, as the apps have: under concurrent calls each one in flight holds its
 * request and answer, and with 1 MiB a third of a busy sidecar's time went to scavenges copying
 * them (ADR 0013, second addendum). Idle, a sidecar stays under its 80 MiB (daprd: about 40).
 */
export const sidecarNodeOptions = '--max-semi-space-size=4';
/** The database of the state store, the name registry and the pub/sub broker. */
export const daprDatabase = 'dapr';

export interface DaprRuntime {
  /** What each replica's sidecar gets besides APP_ID, ports and its instance name. */
  sidecarEnv(appId: string): Record<string, string | undefined>;
  /** What each app gets to talk to its sidecar (DAPR_HTTP_PORT is added per spawn). */
  appEnv: Record<string, string>;
}

/**
 * Secrets the components reference with `secretKeyRef` (in the cluster: Kubernetes Secrets from
 * deploy/), written where only this user can read them, and fresh API tokens for this run: the
 * app's, the sidecar's and the one sidecars call each other with.
 */
export function prepareDaprRuntime(config: DevConfig, daprDatabaseUrl: string): DaprRuntime {
  const keysDir = path.join(config.dataDir, 'keys');
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const secretsFile = path.join(keysDir, 'dapr-secrets.json');
  const secrets = {
    'dapr-postgres': { connectionString: daprDatabaseUrl },
    // pubsub.redis is served by the dev sidecar's PostgreSQL broker: no Redis, no password.
    'dapr-redis': { password: '' },
  };
  writeFileSync(secretsFile, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  const apiToken = randomBytes(24).toString('base64url');
  const appApiToken = randomBytes(24).toString('base64url');
  // Only sidecars hold it: an app (or any other local process) cannot pose as a sidecar.
  const internalToken = randomBytes(24).toString('base64url');
  return {
    sidecarEnv: (appId) => ({
      ...inheritedEnv(sidecarNodeOptions),
      APP_ID: appId,
      // The cluster's namespace (deploy/): access-control policies name callers by it.
      NAMESPACE: 'sidecart',
      LOG_LEVEL: config.logLevel,
      DAPR_RESOURCES_PATH: componentsDir,
      DAPR_CONFIG: daprConfiguration,
      DAPR_SECRETS_FILE: secretsFile,
      SIDECAR_DATABASE_URL: daprDatabaseUrl,
      DAPR_API_TOKEN: apiToken,
      APP_API_TOKEN: appApiToken,
      SIDECAR_INTERNAL_TOKEN: internalToken,
    }),
    appEnv: { DAPR_API_TOKEN: apiToken, APP_API_TOKEN: appApiToken },
  };
}
