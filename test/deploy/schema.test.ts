import { beforeAll, describe, expect, test } from '@jest/globals';
import { app, breakAnnotation, breakOne } from './mutate.ts';
import { type K8sObject, overlays, renderOverlay } from './render.ts';
import { schemaViolations } from './schemas.ts';

describe('schemas of the rendered objects', () => {
  test.each(overlays)('every object of %s is valid', (overlay) => {
    expect(schemaViolations(renderOverlay(overlay))).toEqual([]);
  });

  describe('broken fixtures', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = renderOverlay('k3d');
    });

    const cases: Array<[string, K8sObject[] | (() => K8sObject[]), RegExp]> = [
      [
        'a quoted replica count (kubernetes-models)',
        () => breakOne(objects, 'Deployment', 'auth', (d) => (d.spec.replicas = '3')),
        /^Deployment\/auth: .*replicas must be integer/,
      ],
      [
        'an unquoted Dapr annotation',
        () => breakAnnotation(objects, 'orders', 'dapr.io/app-port', 3000),
        /^Deployment\/orders: .*annotations.* must be string/,
      ],
      [
        'a probe without a port',
        () =>
          breakOne(
            objects,
            'Deployment',
            'products',
            (d) => delete app(d).readinessProbe.httpGet.port,
          ),
        /^Deployment\/products: .*port/,
      ],
      [
        'scopes misplaced under spec (daprd would ignore them)',
        () => breakOne(objects, 'Component', 'statestore', (c) => (c.spec.scopes = ['orders'])),
        /^Component\/statestore: \/spec must NOT have additional properties/,
      ],
      [
        'a component metadata item with neither value nor secretKeyRef',
        () => breakOne(objects, 'Component', 'pubsub', (c) => delete c.spec.metadata[0].value),
        /^Component\/pubsub: \/spec\/metadata\/0 must NOT have fewer than 2 properties/,
      ],
      [
        'a resiliency retry policy Dapr does not know',
        () =>
          breakOne(
            objects,
            'Resiliency',
            'sidecart',
            (r) => (r.spec.policies.retries['app-unavailable'].policy = 'linear'),
          ),
        /^Resiliency\/sidecart: \/spec\/policies\/retries\/app-unavailable\/policy must be equal to one of the allowed values/,
      ],
      [
        'a Configuration sampling rate that is a number',
        () =>
          breakOne(objects, 'Configuration', 'appconfig', (c) => (c.spec.tracing.samplingRate = 1)),
        /^Configuration\/appconfig: \/spec\/tracing\/samplingRate must be string/,
      ],
      [
        'an IngressRoute route without services',
        () =>
          breakOne(objects, 'IngressRoute', 'sidecart', (r) => delete r.spec.routes[0].services),
        /^IngressRoute\/sidecart: \/spec\/routes\/0 must have required property 'services'/,
      ],
      [
        'a Middleware retry with a quoted attempt count',
        () =>
          breakOne(objects, 'Middleware', 'retry-idempotent', (m) => (m.spec.retry.attempts = '3')),
        /^Middleware\/retry-idempotent: \/spec\/retry\/attempts must be integer/,
      ],
      [
        'a Subscription without a topic',
        () => [
          ...objects,
          {
            apiVersion: 'dapr.io/v2alpha1',
            kind: 'Subscription',
            metadata: { name: 'orders-events' },
            spec: { pubsubname: 'pubsub', routes: { default: '/events' } },
          },
        ],
        /^Subscription\/orders-events: \/spec must have required property 'topic'/,
      ],
      [
        'a CloudNativePG Cluster without storage',
        () => [
          ...objects,
          {
            apiVersion: 'postgresql.cnpg.io/v1',
            kind: 'Cluster',
            metadata: { name: 'postgres' },
            spec: { instances: 3 },
          },
        ],
        /^Cluster\/postgres: \/spec must have required property 'storage'/,
      ],
      [
        'a kind nobody checks',
        () => [
          ...objects,
          { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
        ],
        /^Widget\/w: no schema for example.com\/v1\/Widget$/,
      ],
      [
        'a name that is no DNS-1123 name',
        () => breakOne(objects, 'Service', 'auth', (s) => (s.metadata.name = 'Auth_Service')),
        /^Service\/Auth_Service: metadata.name is not a DNS-1123 name$/,
      ],
    ];

    test.each(cases)('%s is reported', (_, broken, expected) => {
      const violations = schemaViolations(typeof broken === 'function' ? broken() : broken);

      expect(violations).toHaveLength(1);
      expect(violations[0]).toMatch(expected);
    });
  });
});
