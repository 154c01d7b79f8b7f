import type { K8sObject } from './render.ts';

// Typed views of the rendered objects, as loose as the checks need: the schemas already proved
// the shapes, these only name the fields the rules read.

export interface Port {
  name?: string;
  containerPort: number;
}
export interface Probe {
  httpGet?: { path?: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: unknown;
  periodSeconds?: number;
  failureThreshold?: number;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: Port[];
  env?: EnvVar[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
}
export interface PodSpec {
  containers: Container[];
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
  topologySpreadConstraints?: Array<{
    topologyKey: string;
    labelSelector?: { matchLabels?: Record<string, string> };
  }>;
  volumes?: Array<{ name: string; secret?: { secretName: string }; configMap?: { name: string } }>;
}
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
export interface Workload {
  object: K8sObject;
  id: string;
  replicas: number;
  template: PodTemplate;
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'Job']);

/** Deployments, StatefulSets and Jobs with their pod templates. */
export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((object) => workloadKinds.has(object.kind))
    .map((object) => {
      const spec = object.spec as { replicas?: number; template: PodTemplate };
      return {
        object,
        id: `${object.kind}/${object.metadata.name}`,
        replicas: spec.replicas ?? 1,
        template: spec.template,
      };
    });
}

export const annotationsOf = (workload: Workload) => workload.template.metadata?.annotations ?? {};

/** Deployments that get a Dapr sidecar: the services. */
export const daprApps = (objects: K8sObject[]) =>
  workloads(objects).filter(
    (workload) =>
      workload.object.kind === 'Deployment' &&
      annotationsOf(workload)['dapr.io/enabled'] === 'true',
  );

/** The container daprd talks to: the one declaring dapr.io/app-port. */
export function appContainer(workload: Workload): Container | undefined {
  const port = Number(annotationsOf(workload)['dapr.io/app-port']);
  return workload.template.spec.containers.find((container) =>
    container.ports?.some((declared) => declared.containerPort === port),
  );
}

export const ofKind = (objects: K8sObject[], kind: string) =>
  objects.filter((object) => object.kind === kind);

export const named = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata.name === name);

/** Whether a label selector's matchLabels all hold on the labels. */
export const selects = (
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** A Go duration ("5s", "1m30s", "250ms") in seconds. */
export function seconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== duration) {
    throw new Error(`not a duration: ${duration}`);
  }
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * units[unit!]!, 0);
}
