import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { kubeContext, namespace } from '../deploy/k3d-cluster.ts';

// The chaos test talks to the cluster through kubectl and k3d, as a developer would (no client
// library: @kubernetes/client-node is ESM-only and its API changes between majors).

const run = promisify(execFile);
const context = process.env.KUBE_CONTEXT ?? kubeContext;

export async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', ['--context', context, '-n', namespace, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Why the chaos test cannot run, or undefined when the k3d cluster answers. */
export function clusterUnreachable(): string | undefined {
  if (process.env.CHAOS !== '1') return 'set CHAOS=1 with the k3d cluster up (npm run test:chaos)';
  try {
    execFileSync('kubectl', ['--context', context, 'get', 'namespace', namespace], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    return undefined;
  } catch {
    return `kubectl --context ${context} get namespace ${namespace} failed: is the cluster up?`;
  }
}

export interface Pod {
  name: string;
  node: string;
  ready: boolean;
  terminating: boolean;
}

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { conditions?: { type: string; status: string }[] };
}

export async function podsOf(app: string): Promise<Pod[]> {
  const list = JSON.parse(
    await kubectl('get', 'pods', '-l', `app.kubernetes.io/name=${app}`, '-o', 'json'),
  ) as { items: PodJson[] };
  return list.items.map((pod) => ({
    name: pod.metadata.name,
    node: pod.spec.nodeName ?? '',
    ready: pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: pod.metadata.deletionTimestamp !== undefined,
  }));
}

/** Deletes a pod: gracefully (preStop, SIGTERM, drain), or at once like a crashed node. */
export async function deletePod(name: string, mode: 'graceful' | 'force'): Promise<void> {
  const force = mode === 'force' ? ['--grace-period=0', '--force'] : [];
  await kubectl('delete', 'pod', name, '--wait=false', ...force);
}

export interface DeploymentState {
  name: string;
  desired: number;
  ready: number;
  updated: number;
  available: number;
}

export async function deployments(): Promise<DeploymentState[]> {
  const list = JSON.parse(await kubectl('get', 'deployments', '-o', 'json')) as {
    items: {
      metadata: { name: string };
      spec: { replicas?: number };
      status: { readyReplicas?: number; updatedReplicas?: number; availableReplicas?: number };
    }[];
  };
  return list.items.map((item) => ({
    name: item.metadata.name,
    desired: item.spec.replicas ?? 1,
    ready: item.status.readyReplicas ?? 0,
    updated: item.status.updatedReplicas ?? 0,
    available: item.status.availableReplicas ?? 0,
  }));
}

export const recovered = (state: DeploymentState) =>
  state.ready === state.desired && state.available === state.desired;

/** The pods of the data stores, which the node-loss variant must not take down with a node. */
export async function nodesHosting(apps: string[]): Promise<Set<string>> {
  const pods = await Promise.all(apps.map(podsOf));
  return new Set(pods.flat().map((pod) => pod.node));
}

export async function agentNodes(): Promise<string[]> {
  const out = await kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}');
  return out.split(/\s+/).filter((name) => /-agent-\d+$/.test(name));
}

export async function nodeReady(name: string): Promise<boolean> {
  const status = await kubectl(
    'get',
    'node',
    name,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
  );
  return status.trim() === 'True';
}

/** `k3d node stop|start`: the node's container stops, as a lost machine would. */
export async function k3dNode(action: 'stop' | 'start', name: string): Promise<void> {
  await run('k3d', ['node', action, name]);
}

/** auth's signing key, from the Secret the Deployment mounts: tokens without registrations. */
export async function authSigningKey(): Promise<string> {
  const encoded = await kubectl(
    'get',
    'secret',
    'auth-keys',
    '-o',
    'jsonpath={.data.private-key\\.pem}',
  );
  return Buffer.from(encoded, 'base64').toString('utf8');
}
