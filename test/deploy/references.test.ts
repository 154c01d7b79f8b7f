import { breakAnnotation, breakOne, describeRules, type BrokenCase } from './mutate.ts';
import { referenceRules } from './reference-rules.ts';
import { renderOverlay } from './render.ts';

const route = (r: Record<string, any>, match: RegExp) =>
  r.spec.routes.find((x: { match: string }) => match.test(x.match));

// The fixtures break the k3d overlay, rendered once when the file is collected.
const objects = renderOverlay('k3d');
const breakRoutes = (change: (ingressRoute: Record<string, any>) => void) =>
  breakOne(objects, 'IngressRoute', 'sidecart', change);

const cases: BrokenCase[] = [
  [
    'Services select',
    () =>
      breakOne(
        objects,
        'Service',
        'orders',
        (s) => (s.spec.selector = { 'app.kubernetes.io/name': 'order' }),
      ),
    'Service/orders: selects no pods',
  ],
  [
    'Services select',
    () => breakOne(objects, 'Service', 'redis', (s) => (s.spec.ports[0].targetPort = 'redis-tls')),
    'Service/redis: no selected pod declares port redis-tls',
  ],
  [
    'the ingress routes',
    () => breakRoutes((r) => (route(r, /cart.*Method/).services[0].name = 'cart')),
    'route (Path(`/api/cart`) || PathPrefix(`/api/cart/`)) && (Method(`GET`) || Method(`HEAD`) || Method(`OPTIONS`) || Method(`PUT`) || Method(`DELETE`)): no Service cart with port http',
  ],
  [
    'the ingress routes',
    () =>
      breakRoutes(
        (r) =>
          (r.spec.routes = r.spec.routes.filter(
            (x: { match: string }) => !x.match.includes('/api/cart'),
          )),
      ),
    '/api/cart is not routed to orders (the local ingress routes it there)',
  ],
  [
    'the ingress routes',
    () =>
      breakRoutes(
        (r) =>
          (route(r, /products\/`\)\)$/).match = '(Path(`/healthz`) || PathPrefix(`/healthz/`))'),
      ),
    '/healthz is routed, but not by the local ingress',
  ],
  [
    'the ingress routes',
    () =>
      breakRoutes((r) => (route(r, /auth\/`\)\)$/).middlewares = [{ name: 'retry-idempotent' }])),
    'route (Path(`/api/auth`) || PathPrefix(`/api/auth/`)): retries a non-idempotent method',
  ],
  [
    'the ingress routes',
    () => breakRoutes((r) => (route(r, /auth.*Method/).middlewares[0].name = 'retry')),
    'route (Path(`/api/auth`) || PathPrefix(`/api/auth/`)) && (Method(`GET`) || Method(`HEAD`) || Method(`OPTIONS`) || Method(`PUT`) || Method(`DELETE`)): no Middleware retry',
  ],
  [
    'every secret reference',
    () =>
      breakOne(
        objects,
        'Component',
        'statestore',
        (c) => (c.spec.metadata[0].secretKeyRef.key = 'url'),
      ),
    'Component/statestore connectionString: Secret dapr-postgres has no key url',
  ],
  [
    'every secret reference',
    () => breakAnnotation(objects, 'auth', 'dapr.io/api-token-secret', 'dapr-token'),
    'Deployment/auth dapr.io/api-token-secret: no Secret dapr-token',
  ],
  [
    'every secret reference',
    () =>
      breakOne(
        objects,
        'Deployment',
        'auth',
        (d) => (d.spec.template.spec.volumes[1].secret.secretName = 'auth-key'),
      ),
    'Deployment/auth volume keys: no Secret auth-key',
  ],
  [
    'Dapr resources scope',
    () => breakOne(objects, 'Component', 'statestore', (c) => (c.scopes = ['order'])),
    'Component/statestore: scope order is no app id',
  ],
  [
    'Dapr resources scope',
    () => breakOne(objects, 'Component', 'pubsub', (c) => (c.spec.scopes = ['orders'])),
    'Component/pubsub: scopes under spec are ignored by daprd',
  ],
  [
    'Subscriptions name',
    () => [
      ...objects,
      {
        apiVersion: 'dapr.io/v2alpha1',
        kind: 'Subscription',
        metadata: { name: 's' },
        spec: { pubsubname: 'statestore', topic: 't', routes: { default: '/t' } },
      },
    ],
    'Subscription names pubsub statestore, which is no pubsub Component',
  ],
  [
    'dapr.io/config',
    () => breakAnnotation(objects, 'products', 'dapr.io/config', 'app-config'),
    'Deployment/products: no Configuration app-config',
  ],
  [
    'dapr.io/config',
    () =>
      breakOne(
        objects,
        'Configuration',
        'appconfig',
        (c) =>
          (c.spec.accessControl.policies.find(
            (p: { appId: string }) => p.appId === 'auth',
          ).operations = [{ name: '/internal/**', httpVerb: ['POST'], action: 'allow' }]),
      ).filter((o) => o.kind !== 'Deployment' || o.metadata.name === 'auth'),
    'Configuration/appconfig: /internal/** must be denied by default and allowed to orders only (allowed: orders,auth)',
  ],
  [
    'Resiliency targets',
    () =>
      breakOne(
        objects,
        'Resiliency',
        'sidecart',
        (r) => (r.spec.targets.components.statestores = r.spec.targets.components.statestore),
      ),
    'Resiliency: Component statestores does not exist',
  ],
  [
    'ServiceAccounts',
    () =>
      breakOne(
        objects,
        'Deployment',
        'orders',
        (d) => (d.spec.template.spec.serviceAccountName = 'order'),
      ),
    'Deployment/orders: no ServiceAccount order',
  ],
  [
    'ServiceAccounts',
    () =>
      breakOne(objects, 'RoleBinding', 'dapr-secret-reader', (b) => (b.subjects[0].name = 'authn')),
    'RoleBinding/dapr-secret-reader: no ServiceAccount authn',
  ],
  [
    'ServiceAccounts',
    () =>
      breakOne(
        objects,
        'StatefulSet',
        'postgres',
        (s) =>
          (s.spec.template.spec.volumes.find(
            (v: { name: string }) => v.name === 'init',
          ).configMap.name = 'postgres-init'),
      ),
    'StatefulSet/postgres: no ConfigMap postgres-init',
  ],
  [
    'autoscalers scale',
    () =>
      breakOne(
        objects,
        'HorizontalPodAutoscaler',
        'auth',
        (h) => (h.spec.metrics[0].containerResource.container = 'daprd'),
      ),
    'HorizontalPodAutoscaler/auth: Deployment/auth has no container daprd',
  ],
  [
    'autoscalers scale',
    () =>
      breakOne(
        objects,
        'HorizontalPodAutoscaler',
        'orders',
        (h) => (h.spec.scaleTargetRef.name = 'order'),
      ),
    'HorizontalPodAutoscaler/orders: no Deployment order',
  ],
  [
    'everything lives',
    () => breakOne(objects, 'Secret', 'dapr-redis', (s) => (s.metadata.namespace = 'default')),
    'Secret/dapr-redis: namespace default',
  ],
];

describeRules('cross-references', referenceRules, cases);
