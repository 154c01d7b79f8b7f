import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from './render.ts';
import { clusterName, registry } from './k3d-cluster.ts';

// Checks of k3d-config.yaml that need no Docker: its shape against our own compact schema of
// k3d's v1alpha5 config, and what the rest of the cluster files rely on it for.

export type K3dConfig = Record<string, any>;

export const k3dConfigPath = path.join(repoRoot, 'k3d-config.yaml');

export function loadK3dConfig(): K3dConfig {
  return parse(readFileSync(k3dConfigPath, 'utf8')) as K3dConfig;
}

const schema = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'schemas', 'k3d-config.schema.json'), 'utf8'),
) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);

const minimumAgents = 2;
const minimumTraefikReplicas = 2;

/** Every rule, by name; each returns the problems it finds (none: the rule holds). */
export const k3dConfigRules: Record<string, (config: K3dConfig) => string[]> = {
  schema: (config) =>
    validate(config)
      ? []
      : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`),

  // Tilt's allow-list, the chaos test and the README name the context k3d-sidecart.
  name: (config) =>
    config.metadata?.name === clusterName ? [] : [`metadata.name is not ${clusterName}`],

  // Replicas spread over agents; the node-loss test needs one to spare.
  agents: (config) =>
    Number(config.agents) >= minimumAgents ? [] : [`fewer than ${minimumAgents} agents`],

  // "latest" or no tag would give each developer another Kubernetes.
  pinnedImage: (config) =>
    /^rancher\/k3s:v\d+\.\d+\.\d+-k3s\d+$/.test(String(config.image))
      ? []
      : [`image ${config.image} is not a pinned rancher/k3s:vX.Y.Z-k3sN`],

  // The API on localhost:8080, like `npm start`.
  ingressPort: (config) =>
    (config.ports ?? []).some(
      (port: K3dConfig) =>
        port.port === '8080:80' &&
        port.nodeFilters?.length === 1 &&
        port.nodeFilters[0] === 'loadbalancer',
    )
      ? []
      : ['no 8080:80 port on the loadbalancer'],

  registry: (config) => {
    const create = config.registries?.create;
    return create?.name === registry.name && create?.hostPort === registry.hostPort
      ? []
      : [`registries.create is not ${registry.name} on host port ${registry.hostPort}`];
  },

  // The Ingress and its retry middleware are Traefik's.
  traefikKept: (config) =>
    (config.options?.k3s?.extraArgs ?? []).some((extra: K3dConfig) =>
      /--disable[= ](\S*,)?traefik\b/.test(String(extra.arg)),
    )
      ? ['Traefik is disabled']
      : [],

  traefikReplicas: (config) => {
    const problems: string[] = [];
    const files = (config.files ?? []) as K3dConfig[];
    const traefik = files.flatMap((file) =>
      parseAllDocuments(String(file.source))
        .map((document) => document.toJS() as K3dConfig | null)
        .filter((object) => object?.kind === 'HelmChartConfig')
        .map((object) => ({ file, object: object! })),
    );
    if (traefik.length !== 1) return [`${traefik.length} HelmChartConfig in files, expected 1`];
    const { file, object } = traefik[0]!;
    if (object.apiVersion !== 'helm.cattle.io/v1') problems.push('HelmChartConfig apiVersion');
    if (object.metadata?.name !== 'traefik' || object.metadata?.namespace !== 'kube-system') {
      problems.push('the HelmChartConfig is not kube-system/traefik (k3s merges by that name)');
    }
    // k3s deploys the manifests of a server's auto-deploy folder only.
    if (
      !/^(k3s-manifests(-custom)?\/|\/var\/lib\/rancher\/k3s\/server\/manifests\/)/.test(
        file.destination,
      )
    ) {
      problems.push(`destination ${file.destination} is not a k3s auto-deploy folder`);
    }
    if (!(file.nodeFilters ?? []).every((filter: string) => filter.startsWith('server'))) {
      problems.push('the HelmChartConfig goes to agents too');
    }
    const values = parse(String(object.spec?.valuesContent ?? '')) as K3dConfig | null;
    if (!(Number(values?.deployment?.replicas) >= minimumTraefikReplicas)) {
      problems.push(`Traefik runs fewer than ${minimumTraefikReplicas} replicas`);
    }
    return problems;
  },
};

export function checkK3dConfig(config: K3dConfig): string[] {
  return Object.entries(k3dConfigRules).flatMap(([rule, check]) =>
    check(config).map((problem) => `${rule}: ${problem}`),
  );
}
