import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { ResourceError } from './resource-error.ts';
import {
  type componentSchema,
  type configurationSchema,
  kinds,
  type metadataItem,
  type resiliencySchema,
  secretsSchema,
  served,
  servedList,
  subscriptionV1,
  type subscriptionV2,
} from './resource-schemas.ts';
import type {
  ComponentResource,
  ConfigurationResource,
  ResiliencySpec,
  Resources,
  SubscriptionResource,
} from './types.ts';

// Its own file: the running sidecar throws it too (resiliency.ts) without loading yaml and zod.
export { ResourceError };

export interface LoadResourcesOptions {
  appId: string;
  /** daprd's NAMESPACE: manifests naming another namespace are skipped (docs/dapr-behaviour.md §6.1). */
  namespace?: string;
  /** JSON `{secretName: {key: value}}`, standing in for the kubernetes secret store. */
  secretsFile?: string;
  /** Where `envRef` values come from (the caller passes its environment). */
  env?: Record<string, string | undefined>;
  /** The Configuration to use (k8s: the `dapr.io/config` annotation). */
  configuration?: string;
}

interface Manifest {
  file: string;
  kind: string;
  apiVersion: string;
  raw: Record<string, unknown>;
}

/** Reads the resources folders for one app id: filtered by namespace and scopes, secrets resolved. */
export function loadResources(paths: string[], options: LoadResourcesOptions): Resources {
  const problems: string[] = [];
  const parsed = readManifests(paths, problems).flatMap((manifest) => {
    const data = validate(manifest, problems);
    return data === undefined ? [] : [{ ...manifest, data }];
  });
  const applies = ({ data }: { data: Validated }) =>
    (data.metadata.namespace === undefined || data.metadata.namespace === options.namespace) &&
    (!data.scopes?.length || data.scopes.includes(options.appId));
  const mine = parsed.filter(applies);
  const of = <T>(kind: string) =>
    mine
      .filter((m) => m.kind === kind)
      .map((m) => ({ file: m.file, apiVersion: m.apiVersion, data: m.data as T }));

  const resolve = metadataResolver(options);
  const components = of<z.infer<typeof componentSchema>>('Component').map(({ file, data }) =>
    toComponent(file, data, resolve, problems),
  );
  checkComponents(components, problems);
  const subscriptions = of<z.infer<typeof subscriptionV2>>('Subscription').map(
    ({ data, apiVersion }) => toSubscription(data, apiVersion),
  );
  const resiliencies = of<z.infer<typeof resiliencySchema>>('Resiliency').map(({ data }) => ({
    name: data.metadata.name,
    ...data.spec,
  })) satisfies ResiliencySpec[];
  const configuration = chooseConfiguration(of('Configuration'), options.configuration, problems);

  if (problems.length > 0) throw new ResourceError(problems);
  return { components, subscriptions, configuration, resiliencies };
}

function readManifests(paths: string[], problems: string[]): Manifest[] {
  const manifests: Manifest[] = [];
  for (const folder of paths) {
    if (!existsSync(folder)) {
      problems.push(`resources folder ${folder} does not exist`);
      continue;
    }
    const names = readdirSync(folder, { withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.ya?ml$/i.test(entry.name))
      .map((entry) => entry.name)
      .sort();
    for (const name of names) {
      const file = path.join(folder, name);
      for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
        if (document.errors.length > 0) {
          // The first line names the problem and its position; the rest is a code excerpt.
          const firstLine = (message: string) => message.split('\n')[0]!.replace(/:$/, '');
          problems.push(...document.errors.map((error) => `${file}: ${firstLine(error.message)}`));
          continue;
        }
        const raw: unknown = document.toJS();
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) continue;
        const { apiVersion, kind } = raw as Record<string, unknown>;
        // kustomization.yaml, Secrets and other Kubernetes objects are not daprd's business.
        if (typeof apiVersion !== 'string' || !apiVersion.startsWith('dapr.io/')) continue;
        manifests.push({
          file,
          kind: String(kind),
          apiVersion,
          raw: raw as Record<string, unknown>,
        });
      }
    }
  }
  return manifests;
}

/** What every validated manifest has: namespace and scopes decide whether it applies. */
type Validated = { metadata: { name: string; namespace?: string }; scopes?: string[] };

function validate(manifest: Manifest, problems: string[]): Validated | undefined {
  const { file, kind, apiVersion, raw } = manifest;
  const known = kinds[kind];
  if (!known) {
    problems.push(
      `${file}: kind ${kind} is not served by the dev sidecar (it reads ${Object.keys(kinds).join(', ')})`,
    );
    return undefined;
  }
  if (!known.versions.includes(apiVersion)) {
    problems.push(
      `${file}: ${kind} must have apiVersion ${known.versions.join(' or ')}, not ${apiVersion}`,
    );
    return undefined;
  }
  const schema =
    kind === 'Subscription' && apiVersion === 'dapr.io/v1alpha1' ? subscriptionV1 : known.schema;
  const result = schema.safeParse(raw);
  const name = (raw.metadata as { name?: unknown } | undefined)?.name ?? '(no name)';
  const where = `${file}: ${kind} ${String(name)}`;
  // The CRDs accept a misplaced spec.scopes silently, and then the scoping does nothing.
  if ((raw.spec as { scopes?: unknown } | undefined)?.scopes !== undefined) {
    problems.push(`${where}: scopes belongs at the top level, beside spec, not under it`);
  }
  if (!result.success) {
    problems.push(
      ...result.error.issues.map((issue) => `${where}: ${issue.path.join('.')}: ${issue.message}`),
    );
    return undefined;
  }
  return result.data as Validated;
}

/** Resolves a metadata item's value, reading the secrets file once; throws what is missing. */
function metadataResolver(options: LoadResourcesOptions) {
  let secrets: z.infer<typeof secretsSchema> | Error | undefined;
  const readSecrets = (file: string) => {
    try {
      secrets ??= secretsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch (error) {
      const reason = error instanceof z.ZodError ? 'expected {secretName: {key: value}}' : error;
      secrets = new Error(`the secrets file ${file} is unreadable: ${String(reason)}`);
    }
    if (secrets instanceof Error) throw secrets;
    return secrets;
  };
  return (item: z.infer<typeof metadataItem>): string => {
    if (item.secretKeyRef) {
      // daprd: a secretKeyRef without key reads the key named like the secret.
      const { name, key = name } = item.secretKeyRef;
      const needs = `needs secret ${name} (key ${key})`;
      if (options.secretsFile === undefined)
        throw new Error(`${needs}, but no secrets file is set`);
      let value: string | undefined;
      try {
        value = readSecrets(options.secretsFile)[name]?.[key];
      } catch (error) {
        throw new Error(`${needs}, but ${(error as Error).message}`);
      }
      if (value === undefined) throw new Error(`${needs}, not in ${options.secretsFile}`);
      return value;
    }
    if (item.envRef) {
      const value = options.env?.[item.envRef];
      if (value === undefined) throw new Error(`needs env ${item.envRef}, which is unset`);
      return value;
    }
    return item.value ?? '';
  };
}

function toComponent(
  file: string,
  data: z.infer<typeof componentSchema>,
  resolve: ReturnType<typeof metadataResolver>,
  problems: string[],
): ComponentResource {
  const { name } = data.metadata;
  const metadata: Record<string, string> = {};
  for (const item of data.spec.metadata) {
    try {
      metadata[item.name] = resolve(item);
    } catch (error) {
      problems.push(
        `${file}: component ${name}: metadata ${item.name} ${(error as Error).message}`,
      );
    }
  }
  const { type, version } = data.spec;
  return { name, type, version, metadata, scopes: data.scopes, file };
}

function checkComponents(components: ComponentResource[], problems: string[]): void {
  const seen = new Map<string, string>();
  for (const { name, type, version, file } of components) {
    if (!served[type]) {
      problems.push(
        `component ${name} (${type}) in ${file}: the dev sidecar cannot serve this type (it serves: ${servedList})`,
      );
    } else if (!served[type].includes(version)) {
      problems.push(
        `component ${name} (${type} ${version}) in ${file}: the dev sidecar cannot serve this version (it serves: ${servedList})`,
      );
    }
    const earlier = seen.get(name);
    if (earlier !== undefined)
      problems.push(`component ${name} is defined twice: in ${earlier} and in ${file}`);
    seen.set(name, file);
  }
}

function toSubscription(
  data: z.infer<typeof subscriptionV2>,
  apiVersion: string,
): SubscriptionResource {
  const spec = data.spec as z.infer<typeof subscriptionV2>['spec'] & { route?: string };
  // v1alpha1 had one `route`; it is the default route of v2alpha1 (docs/dapr-behaviour.md §4.4).
  const routes =
    apiVersion === 'dapr.io/v1alpha1' ? { rules: [], default: spec.route } : spec.routes;
  return {
    name: data.metadata.name,
    pubsubname: spec.pubsubname,
    topic: spec.topic,
    routes,
    ...(spec.deadLetterTopic ? { deadLetterTopic: spec.deadLetterTopic } : {}),
    metadata: spec.metadata,
  };
}

function chooseConfiguration(
  found: { file: string; data: unknown }[],
  wanted: string | undefined,
  problems: string[],
): ConfigurationResource | undefined {
  const all = found.map(({ data }) => data as z.infer<typeof configurationSchema>);
  const names = all.map((c) => c.metadata.name);
  let chosen = all[0];
  if (wanted !== undefined) {
    chosen = all.find((c) => c.metadata.name === wanted);
    if (!chosen)
      problems.push(`configuration ${wanted} not found (found: ${names.join(', ') || 'none'})`);
  } else if (all.length > 1) {
    problems.push(`several configurations (${names.join(', ')}): name the one to use`);
    return undefined;
  }
  return chosen && toConfiguration(chosen);
}

function toConfiguration({
  metadata,
  spec,
}: z.infer<typeof configurationSchema>): ConfigurationResource {
  const acl = spec.accessControl;
  const hasAcl = acl && (acl.defaultAction || acl.trustDomain || acl.policies?.length);
  return {
    name: metadata.name,
    ...(spec.tracing ? { tracing: { samplingRate: spec.tracing.samplingRate } } : {}),
    features: spec.features,
    ...(hasAcl
      ? {
          accessControl: {
            // daprd: no global default with app policies present means deny (pkg/acl ParseAccessControlSpec).
            defaultAction: acl.defaultAction ?? (acl.policies?.length === 0 ? 'allow' : 'deny'),
            trustDomain: acl.trustDomain ?? 'public',
            policies: (acl.policies ?? []).map(({ appId, defaultAction, operations, ...id }) => ({
              appId,
              ...(id.trustDomain ? { trustDomain: id.trustDomain } : {}),
              ...(id.namespace ? { namespace: id.namespace } : {}),
              ...(defaultAction ? { defaultAction } : {}),
              operations,
            })),
          },
        }
      : {}),
  };
}
