import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export interface DaprdResourcesOptions {
  /** A folder of its own for this daprd: resources/ and config.yaml are written here. */
  dir: string;
  /** Resource folders as the dev sidecar takes them (components/, or a test's YAML). */
  resourcesPaths: string[];
  /** The Configuration to apply, by name (the dev sidecar's DAPR_CONFIG); none = defaults. */
  configuration?: string;
  /** `{secret: {key: value}}`: served by a local file secret store named like the k8s one. */
  secretsFile?: string;
  /** host:port of the local Redis every pubsub.redis component is pointed at. */
  redisAddress?: string;
  /** The SQLite file that sidecars which must find each other share. */
  nameResolutionFile: string;
}

export interface DaprdResources {
  resourcesPath: string;
  configFile: string;
}

type Resource = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, unknown> & { type?: string; metadata?: Array<Record<string, unknown>> };
};

/**
 * What daprd needs beside our resources to run on one machine, like the dev sidecar does:
 * pubsub.redis pointed at a local Redis (components/ names the cluster's `redis:6379`), a
 * `secretstores.local.file` store named `kubernetes` for the secretKeyRefs, and a Configuration
 * file (self-hosted daprd takes a path, not a name) with SQLite name resolution, so several
 * replicas of an app find each other. Zipkin tracing is left out (its endpoint is in-cluster),
 * and so is accessControl, which daprd enforces only with mTLS.
 */
export function prepareDaprdResources(options: DaprdResourcesOptions): DaprdResources {
  const resourcesPath = path.join(options.dir, 'resources');
  rmSync(resourcesPath, { recursive: true, force: true });
  mkdirSync(resourcesPath, { recursive: true, mode: 0o700 });
  const resources = options.resourcesPaths.flatMap(readResources);
  const configurations = resources.filter((resource) => resource.kind === 'Configuration');
  // Unnamed, the only one there applies: the dev sidecar's rule (daprd reads none by itself).
  const configuration = options.configuration
    ? configurations.find((resource) => resource.metadata?.name === options.configuration)
    : configurations.length === 1
      ? configurations[0]
      : undefined;
  resources.forEach((resource, index) => {
    if (resource.kind === 'Configuration') return;
    if (resource.spec?.type === 'pubsub.redis' && options.redisAddress) {
      pointAtRedis(resource, options.redisAddress);
    }
    writeFileSync(path.join(resourcesPath, `${index}.yaml`), stringify(resource), { mode: 0o600 });
  });
  if (options.secretsFile) {
    writeFileSync(path.join(resourcesPath, 'secret-store.yaml'), secretStore(options.secretsFile));
  }
  if (options.configuration && !configuration) {
    throw new Error(`no Configuration named ${options.configuration} in the resources`);
  }
  const configFile = path.join(options.dir, 'config.yaml');
  writeFileSync(configFile, stringify(localConfiguration(configuration, options)), { mode: 0o600 });
  return { resourcesPath, configFile };
}

function readResources(folder: string): Resource[] {
  return (
    readdirSync(folder)
      .filter((file) => /\.ya?ml$/.test(file))
      .sort()
      .flatMap((file) =>
        parseAllDocuments(readFileSync(path.join(folder, file), 'utf8')).map(
          (document) => document.toJSON() as Resource,
        ),
      )
      // Dapr's own kinds only: components/ also holds the kustomization that lists them.
      .filter((resource) => resource?.apiVersion?.startsWith('dapr.io/'))
  );
}

function pointAtRedis(resource: Resource, address: string): void {
  const metadata = resource.spec!.metadata ?? [];
  const host = metadata.find((entry) => entry.name === 'redisHost');
  if (host) host.value = address;
  else metadata.push({ name: 'redisHost', value: address });
  resource.spec!.metadata = metadata;
}

const secretStore = (secretsFile: string) =>
  stringify({
    apiVersion: 'dapr.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'kubernetes' },
    spec: {
      type: 'secretstores.local.file',
      version: 'v1',
      metadata: [
        { name: 'secretsFile', value: secretsFile },
        // `{secret: {key: value}}`, as a Kubernetes Secret has several keys.
        { name: 'multiValued', value: 'true' },
      ],
    },
  });

function localConfiguration(configuration: Resource | undefined, options: DaprdResourcesOptions) {
  const spec = { ...(configuration?.spec ?? {}) } as Record<string, unknown>;
  const tracing = spec.tracing as Record<string, unknown> | undefined;
  if (tracing) spec.tracing = { samplingRate: tracing.samplingRate ?? '1' };
  // Without mTLS (Sentry) daprd cannot tell who calls: every caller would get the global
  // defaultAction, and ours is deny (ADR 0006, "differences found"). Not enforced locally.
  delete spec.accessControl;
  spec.nameResolution = {
    component: 'sqlite',
    configuration: { connectionString: options.nameResolutionFile },
  };
  return {
    apiVersion: 'dapr.io/v1alpha1',
    kind: 'Configuration',
    metadata: { name: configuration?.metadata?.name ?? 'local' },
    spec,
  };
}
