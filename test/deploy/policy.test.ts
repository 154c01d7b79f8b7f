import { app, breakAnnotation, breakOne, describeRules, type BrokenCase } from './mutate.ts';
import { policyRules } from './policy-rules.ts';
import { renderOverlay } from './render.ts';

// The fixtures break the k3d overlay, rendered once when the file is collected.
const objects = renderOverlay('k3d');

const cases: BrokenCase[] = [
  [
    'services run',
    () => breakOne(objects, 'Deployment', 'auth', (d) => (d.spec.replicas = 1)),
    'Deployment/auth: 1 replica(s), want at least 2',
  ],
  [
    'services run',
    () => breakOne(objects, 'HorizontalPodAutoscaler', 'orders', (h) => (h.spec.minReplicas = 1)),
    'Deployment/orders: its HPA allows 1 replica(s)',
  ],
  [
    'services run',
    () =>
      objects.filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'products')),
    'Deployment/products: 0 PodDisruptionBudgets select it, want 1',
  ],
  [
    'services run',
    () => breakOne(objects, 'PodDisruptionBudget', 'auth', (p) => (p.spec.maxUnavailable = 2)),
    'Deployment/auth: PodDisruptionBudget/auth must say maxUnavailable: 1',
  ],
  [
    'services spread',
    () =>
      breakOne(
        objects,
        'Deployment',
        'orders',
        (d) => delete d.spec.template.spec.topologySpreadConstraints,
      ),
    'Deployment/orders: no topology spread over kubernetes.io/hostname selecting its pods',
  ],
  [
    'services have startup',
    () => breakOne(objects, 'Deployment', 'auth', (d) => delete app(d).startupProbe),
    'Deployment/auth: app has no startupProbe',
  ],
  [
    'services have startup',
    () =>
      breakOne(
        objects,
        'Deployment',
        'products',
        (d) => (app(d).readinessProbe.httpGet.path = '/healthz'),
      ),
    'Deployment/products: readinessProbe must GET /readyz',
  ],
  [
    'probes name ports',
    () =>
      breakOne(
        objects,
        'Deployment',
        'orders',
        (d) => (app(d).livenessProbe.httpGet.port = 'metrics'),
      ),
    'Deployment/orders: app livenessProbe port metrics is not declared',
  ],
  [
    'probes name ports',
    () =>
      breakOne(
        objects,
        'StatefulSet',
        'redis',
        (s) => (s.spec.template.spec.containers[0].readinessProbe.tcpSocket.port = 6380),
      ),
    'StatefulSet/redis: redis readinessProbe port 6380 is not declared',
  ],
  [
    'containers request',
    () =>
      breakOne(
        objects,
        'Job',
        'auth-migrate',
        (j) => delete j.spec.template.spec.containers[0].resources.limits,
      ),
    'Job/auth-migrate: migrate has no memory limit',
  ],
  [
    'containers request',
    () =>
      breakOne(
        objects,
        'StatefulSet',
        'postgres',
        (s) => delete s.spec.template.spec.containers[0].resources.requests.cpu,
      ),
    'StatefulSet/postgres: postgres lacks requests',
  ],
  [
    'pods run as non-root',
    () =>
      breakOne(
        objects,
        'Deployment',
        'auth',
        (d) => (d.spec.template.spec.securityContext.runAsNonRoot = false),
      ),
    'Deployment/auth: runAsNonRoot is not true',
  ],
  [
    'pods run as non-root',
    () =>
      breakOne(
        objects,
        'Deployment',
        'zipkin',
        (d) => delete d.spec.template.spec.securityContext.seccompProfile,
      ),
    'Deployment/zipkin: no RuntimeDefault seccomp profile',
  ],
  [
    'pods run as non-root',
    () =>
      breakOne(
        objects,
        'Deployment',
        'products',
        (d) => (app(d).securityContext.allowPrivilegeEscalation = true),
      ),
    'Deployment/products: app may escalate privileges',
  ],
  [
    'pods run as non-root',
    () =>
      breakOne(
        objects,
        'StatefulSet',
        'redis',
        (s) => (s.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false),
      ),
    'StatefulSet/redis: redis root filesystem is writable',
  ],
  [
    'pods run as non-root',
    () =>
      breakOne(
        objects,
        'Job',
        'orders-migrate',
        (j) => (j.spec.template.spec.containers[0].securityContext.capabilities.drop = ['NET_RAW']),
      ),
    'Job/orders-migrate: migrate keeps capabilities',
  ],
  [
    'Dapr annotations',
    () => breakAnnotation(objects, 'auth', 'dapr.io/app_id', 'auth'),
    'Deployment/auth: unknown annotation dapr.io/app_id',
  ],
  [
    'Dapr annotations',
    () => breakAnnotation(objects, 'orders', 'dapr.io/config', undefined),
    'Deployment/orders: missing dapr.io/config',
  ],
  [
    'Dapr annotations',
    () => breakAnnotation(objects, 'products', 'dapr.io/log-as-json', true),
    'Deployment/products: dapr.io/log-as-json is not a string',
  ],
  [
    'dapr.io/app-port',
    () => breakAnnotation(objects, 'products', 'dapr.io/app-port', '8080'),
    'Deployment/products: dapr.io/app-port is no container port',
  ],
  [
    'dapr.io/app-port',
    () => breakAnnotation(objects, 'products', 'dapr.io/app-id', 'orders'),
    'app id orders is used twice',
  ],
  [
    'migrations run',
    () => objects.filter((o) => !(o.kind === 'Job' && o.metadata.name === 'orders-migrate')),
    'Deployment/orders: no Job orders-migrate',
  ],
  [
    'migrations run',
    () =>
      breakOne(
        objects,
        'Job',
        'auth-migrate',
        (j) => (j.spec.template.spec.containers[0].image = 'sidecart/products'),
      ),
    'Job/auth-migrate: image sidecart/products, app runs sidecart/auth',
  ],
  [
    'migrations run',
    () =>
      breakOne(
        objects,
        'Job',
        'products-migrate',
        (j) => (j.spec.template.metadata.annotations = { 'dapr.io/enabled': 'true' }),
      ),
    'Job/products-migrate: has a Dapr sidecar',
  ],
];

describeRules('policy rules', policyRules, cases);
