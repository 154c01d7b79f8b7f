import type { K8sObject } from './render.ts';
import {
  annotationsOf,
  appContainer,
  daprApps,
  type Container,
  named,
  ofKind,
  type Probe,
  selects,
  workloads,
} from './workloads.ts';

/** A rule reads all rendered objects and returns its violations, one line each. */
export interface Rule {
  name: string;
  check(objects: K8sObject[]): string[];
}

// The injector's annotations (dapr/dapr pkg/injector/annotations, 1.18) that we may use; a typo
// such as `dapr.io/app_id` is otherwise ignored silently and the pod runs without its setting.
const daprAnnotations = new Set(
  [
    'enabled',
    'app-id',
    'app-port',
    'app-protocol',
    'config',
    'log-level',
    'log-as-json',
    'enable-api-logging',
    'api-token-secret',
    'app-token-secret',
    'sidecar-cpu-request',
    'sidecar-cpu-limit',
    'sidecar-memory-request',
    'sidecar-memory-limit',
    'env',
    'graceful-shutdown-seconds',
    'block-shutdown-duration',
    'enable-native-sidecar',
    'enable-app-health-check',
    'app-health-check-path',
    'app-health-probe-interval',
    'app-health-probe-timeout',
    'app-health-threshold',
    'app-max-concurrency',
    'enable-metrics',
    'metrics-port',
    'sidecar-liveness-probe-delay-seconds',
    'sidecar-readiness-probe-delay-seconds',
  ].map((name) => `dapr.io/${name}`),
);

const probePort = (probe: Probe) => probe.httpGet?.port ?? probe.tcpSocket?.port;

const declares = (container: Container, port: string | number) =>
  (container.ports ?? []).some((p) => p.name === port || p.containerPort === port);

export const policyRules: Rule[] = [
  {
    name: 'services run at least 2 replicas, a PodDisruptionBudget allows 1 down',
    check: (objects) =>
      daprApps(objects).flatMap((app) => {
        const labels = app.template.metadata?.labels;
        const pdbs = ofKind(objects, 'PodDisruptionBudget').filter((pdb) =>
          selects(
            (pdb.spec as { selector?: { matchLabels?: Record<string, string> } }).selector
              ?.matchLabels,
            labels,
          ),
        );
        const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find(
          (h) =>
            (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name ===
            app.object.metadata.name,
        );
        const minimum = (hpa?.spec as { minReplicas?: number } | undefined)?.minReplicas;
        return [
          ...(app.replicas < 2 ? [`${app.id}: ${app.replicas} replica(s), want at least 2`] : []),
          ...(minimum !== undefined && minimum < 2
            ? [`${app.id}: its HPA allows ${minimum} replica(s)`]
            : []),
          ...(pdbs.length !== 1
            ? [`${app.id}: ${pdbs.length} PodDisruptionBudgets select it, want 1`]
            : []),
          ...pdbs
            .filter((pdb) => (pdb.spec as { maxUnavailable?: unknown }).maxUnavailable !== 1)
            .map(
              (pdb) =>
                `${app.id}: PodDisruptionBudget/${pdb.metadata.name} must say maxUnavailable: 1`,
            ),
        ];
      }),
  },
  {
    name: 'services spread their replicas across nodes',
    check: (objects) =>
      daprApps(objects)
        .filter(
          (app) =>
            !(app.template.spec.topologySpreadConstraints ?? []).some(
              (constraint) =>
                constraint.topologyKey === 'kubernetes.io/hostname' &&
                selects(constraint.labelSelector?.matchLabels, app.template.metadata?.labels),
            ),
        )
        .map(
          (app) => `${app.id}: no topology spread over kubernetes.io/hostname selecting its pods`,
        ),
  },
  {
    name: 'services have startup, readiness (/readyz) and liveness (/healthz) probes',
    check: (objects) =>
      daprApps(objects).flatMap((app) => {
        const container = appContainer(app);
        if (!container) return [`${app.id}: no container declares the dapr.io/app-port`];
        const want = {
          startupProbe: undefined,
          readinessProbe: '/readyz',
          livenessProbe: '/healthz',
        };
        return Object.entries(want).flatMap(([probe, path]) => {
          const declared = container[probe as keyof typeof want];
          if (!declared) return [`${app.id}: ${container.name} has no ${probe}`];
          if (path && declared.httpGet?.path !== path)
            return [`${app.id}: ${probe} must GET ${path}`];
          return [];
        });
      }),
  },
  {
    name: 'probes name ports their container declares',
    check: (objects) =>
      workloads(objects).flatMap((workload) =>
        workload.template.spec.containers.flatMap((container) =>
          (['startupProbe', 'readinessProbe', 'livenessProbe'] as const).flatMap((probe) => {
            const port = container[probe] && probePort(container[probe]);
            return port !== undefined && !declares(container, port)
              ? [`${workload.id}: ${container.name} ${probe} port ${port} is not declared`]
              : [];
          }),
        ),
      ),
  },
  {
    name: 'containers request CPU and memory and limit memory',
    check: (objects) =>
      workloads(objects).flatMap((workload) =>
        workload.template.spec.containers.flatMap((container) => {
          const { requests = {}, limits = {} } = container.resources ?? {};
          return [
            ...(!requests.cpu || !requests.memory
              ? [`${workload.id}: ${container.name} lacks requests`]
              : []),
            ...(!limits.memory ? [`${workload.id}: ${container.name} has no memory limit`] : []),
          ];
        }),
      ),
  },
  {
    name: 'pods run as non-root, read-only, without privilege escalation or capabilities',
    check: (objects) =>
      workloads(objects).flatMap((workload) => {
        const pod = workload.template.spec.securityContext;
        return [
          ...(pod?.runAsNonRoot !== true ? [`${workload.id}: runAsNonRoot is not true`] : []),
          ...(pod?.seccompProfile?.type !== 'RuntimeDefault'
            ? [`${workload.id}: no RuntimeDefault seccomp profile`]
            : []),
          ...workload.template.spec.containers.flatMap((container) => {
            const context = container.securityContext;
            return [
              ...(context?.allowPrivilegeEscalation !== false
                ? [`${workload.id}: ${container.name} may escalate privileges`]
                : []),
              ...(context?.readOnlyRootFilesystem !== true
                ? [`${workload.id}: ${container.name} root filesystem is writable`]
                : []),
              ...(!context?.capabilities?.drop?.includes('ALL')
                ? [`${workload.id}: ${container.name} keeps capabilities`]
                : []),
            ];
          }),
        ];
      }),
  },
  {
    name: 'Dapr annotations are known, quoted and complete',
    check: (objects) =>
      daprApps(objects).flatMap((app) => {
        const annotations = annotationsOf(app);
        return [
          ...Object.entries(annotations)
            .filter(([key]) => key.startsWith('dapr.io/'))
            .flatMap(([key, value]) => [
              ...(!daprAnnotations.has(key) ? [`${app.id}: unknown annotation ${key}`] : []),
              ...(typeof value !== 'string' ? [`${app.id}: ${key} is not a string`] : []),
            ]),
          ...[
            'dapr.io/app-id',
            'dapr.io/app-port',
            'dapr.io/config',
            'dapr.io/api-token-secret',
            'dapr.io/app-token-secret',
          ]
            .filter((key) => !annotations[key])
            .map((key) => `${app.id}: missing ${key}`),
        ];
      }),
  },
  {
    name: 'dapr.io/app-port is the app container port and app ids are unique',
    check: (objects) => {
      const apps = daprApps(objects);
      const ids = apps.map((app) => annotationsOf(app)['dapr.io/app-id']);
      return [
        ...apps
          .filter((app) => !appContainer(app))
          .map((app) => `${app.id}: dapr.io/app-port is no container port`),
        ...ids
          .filter((id, index) => ids.indexOf(id) !== index)
          .map((id) => `app id ${id} is used twice`),
      ];
    },
  },
  {
    name: 'migrations run as a sidecar-less Job of the same image, not in the replicas',
    check: (objects) =>
      daprApps(objects).flatMap((app) => {
        const image = appContainer(app)?.image;
        const service = app.object.metadata.name;
        const job = named(objects, 'Job', `${service}-migrate`);
        if (!job) return [`${app.id}: no Job ${service}-migrate`];
        const [migrate] = workloads([job]);
        const container = migrate!.template.spec.containers[0]!;
        return [
          ...(container.image !== image
            ? [`Job/${service}-migrate: image ${container.image}, app runs ${image}`]
            : []),
          ...(container.command?.join(' ') !== `node services/${service}/src/migrate.ts`
            ? [`Job/${service}-migrate: does not run services/${service}/src/migrate.ts`]
            : []),
          ...(annotationsOf(migrate!)['dapr.io/enabled'] === 'true'
            ? [`Job/${service}-migrate: has a Dapr sidecar`]
            : []),
        ];
      }),
  },
];
