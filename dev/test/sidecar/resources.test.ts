import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { repoRoot } from '../../src/stack/config.ts';
import { createResiliency } from '../../src/sidecar/resiliency.ts';
import {
  loadResources,
  ResourceError,
  type LoadResourcesOptions,
} from '../../src/sidecar/resources.ts';

// The resource loader (docs/dapr-behaviour.md §6): the project's components/ folder and the rules daprd
// applies to resource files (namespace, scopes, secrets), plus what the dev sidecar refuses.

const componentsFolder = path.join(repoRoot, 'components');
const folders: string[] = [];

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A temporary resources folder holding the given files. */
function resourcesFolder(files: Record<string, string>): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'sidecart-resources-test-'));
  folders.push(folder);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(folder, name), text);
  return folder;
}

function secretsFile(secrets: Record<string, Record<string, string>>): string {
  const file = path.join(resourcesFolder({}), 'secrets.json');
  writeFileSync(file, JSON.stringify(secrets));
  return file;
}

/** The problems of the ResourceError that loading throws (fails the test when it loads). */
function problemsOf(paths: string[], options: LoadResourcesOptions): string[] {
  try {
    loadResources(paths, options);
  } catch (error) {
    if (error instanceof ResourceError) return error.problems;
    throw error;
  }
  throw new Error('expected a ResourceError');
}

const component = (name: string, type: string, extra = '') => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: v1
  metadata:
    - name: redisHost
      value: localhost:6379
${extra}
`;

describe('the project components/ folder', () => {
  const secrets = secretsFile({
    'dapr-postgres': { connectionString: 'postgres://u:p@127.0.0.1:5432/orders' },
    'dapr-redis': { password: 'redis-secret' },
  });

  test('orders gets the state store and pub/sub with their secrets resolved', () => {
    const resources = loadResources([componentsFolder], {
      appId: 'orders',
      namespace: 'sidecart',
      secretsFile: secrets,
    });

    expect(resources.components).toEqual([
      {
        name: 'pubsub',
        type: 'pubsub.redis',
        version: 'v1',
        metadata: {
          redisHost: 'redis:6379',
          redisPassword: 'redis-secret',
          consumerID: '{appID}',
          processingTimeout: '150s',
          redeliverInterval: '30s',
          concurrency: '10',
        },
        scopes: ['auth', 'products', 'orders'],
        file: path.join(componentsFolder, 'pubsub.yaml'),
      },
      {
        name: 'statestore',
        type: 'state.postgresql',
        version: 'v2',
        metadata: {
          connectionString: 'postgres://u:p@127.0.0.1:5432/orders',
          keyPrefix: 'appid',
        },
        scopes: ['orders'],
        file: path.join(componentsFolder, 'statestore.yaml'),
      },
    ]);
    expect(resources.subscriptions).toEqual([]);
    expect(resources.resiliencies.map((r) => r.name)).toEqual(['sidecart']);
  });

  test.each(['auth', 'products'])('%s gets pub/sub only', (appId) => {
    const resources = loadResources([componentsFolder], { appId, secretsFile: secrets });

    expect(resources.components.map((c) => c.name)).toEqual(['pubsub']);
  });

  test('its resiliency resolves for every app: named app targets, pub/sub inbound retries', () => {
    for (const appId of ['auth', 'products', 'orders']) {
      const { resiliencies } = loadResources([componentsFolder], { appId, secretsFile: secrets });
      const resiliency = createResiliency(resiliencies, appId);

      for (const target of ['auth', 'products', 'orders']) {
        expect(resiliency.app(target)).toMatchObject({ isEmpty: false, builtInRetries: false });
      }
      expect(resiliency.componentInbound('pubsub').isEmpty).toBe(false);
      expect(resiliency.componentOutbound('pubsub', 'pubsub').isEmpty).toBe(false);
      expect(resiliency.componentOutbound('statestore', 'state').isEmpty).toBe(false);
    }
  });

  test('its configuration denies invocation except the listed routes', () => {
    const { configuration } = loadResources([componentsFolder], {
      appId: 'auth',
      secretsFile: secrets,
    });

    expect(configuration).toEqual({
      name: 'appconfig',
      tracing: { samplingRate: '1' },
      features: [],
      accessControl: {
        defaultAction: 'deny',
        trustDomain: 'public',
        policies: [
          {
            appId: 'products',
            trustDomain: 'public',
            namespace: 'sidecart',
            defaultAction: 'deny',
            operations: [
              { name: '/api/auth/.well-known/jwks.json', httpVerb: ['GET'], action: 'allow' },
            ],
          },
          {
            appId: 'orders',
            trustDomain: 'public',
            namespace: 'sidecart',
            defaultAction: 'deny',
            operations: [
              { name: '/api/auth/.well-known/jwks.json', httpVerb: ['GET'], action: 'allow' },
              { name: '/internal/**', httpVerb: ['POST', 'GET'], action: 'allow' },
            ],
          },
          {
            appId: 'auth',
            trustDomain: 'public',
            namespace: 'sidecart',
            defaultAction: 'deny',
            operations: [],
          },
        ],
      },
    });
  });

  test('without a secrets file it names every secret it could not resolve', () => {
    const problems = problemsOf([componentsFolder], { appId: 'orders' });

    expect(problems).toEqual([
      `${path.join(componentsFolder, 'pubsub.yaml')}: component pubsub: metadata redisPassword needs secret dapr-redis (key password), but no secrets file is set`,
      `${path.join(componentsFolder, 'statestore.yaml')}: component statestore: metadata connectionString needs secret dapr-postgres (key connectionString), but no secrets file is set`,
    ]);
  });
});

describe('secrets', () => {
  const folder = resourcesFolder({
    'c.yaml': component('events', 'pubsub.redis', '').replace(
      'value: localhost:6379',
      'value: localhost:6379\n    - { name: redisPassword, secretKeyRef: { name: redis } }\n    - { name: redisUsername, secretKeyRef: { name: redis, key: user } }',
    ),
  });
  const file = path.join(folder, 'c.yaml');

  test('a secretKeyRef without key reads the key named like the secret', () => {
    const secrets = secretsFile({ redis: { redis: 'pw', user: 'me' } });

    const [events] = loadResources([folder], { appId: 'a', secretsFile: secrets }).components;

    expect(events!.metadata).toEqual({
      redisHost: 'localhost:6379',
      redisPassword: 'pw',
      redisUsername: 'me',
    });
  });

  test('a missing key and an unreadable secrets file are named', () => {
    const partial = secretsFile({ redis: { redis: 'pw' } });
    const broken = path.join(resourcesFolder({ 'secrets.json': '{"redis": ' }), 'secrets.json');

    expect(problemsOf([folder], { appId: 'a', secretsFile: partial })).toEqual([
      `${file}: component events: metadata redisUsername needs secret redis (key user), not in ${partial}`,
    ]);
    expect(problemsOf([folder], { appId: 'a', secretsFile: broken })).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${file}: component events: metadata redisPassword needs secret redis \\(key redis\\), but the secrets file ${broken} is unreadable: SyntaxError`,
        ),
      ),
      expect.stringMatching(
        /metadata redisUsername needs secret redis \(key user\), but the secrets file .* is unreadable: SyntaxError/,
      ),
    ]);
  });
});

describe('filtering', () => {
  test('manifests of another namespace and components scoped to other apps are skipped', () => {
    const folder = resourcesFolder({
      'pubsubs.yaml': [
        component('everyone', 'pubsub.redis'),
        component('mine', 'pubsub.redis', 'scopes: [other, orders]'),
        component('theirs', 'pubsub.redis', 'scopes: [products]'),
        component('here', 'pubsub.redis').replace('name: here', 'name: here\n  namespace: dev'),
        component('elsewhere', 'pubsub.redis').replace(
          'name: elsewhere',
          'name: elsewhere\n  namespace: prod',
        ),
      ].join('---\n'),
      'subscriptions.yml': `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: { name: for-orders }
spec:
  pubsubname: everyone
  topic: order-cancelled
  routes: { rules: [{ match: 'event.type == "x"', path: /x }], default: /events }
  deadLetterTopic: dead
scopes: [orders]
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata: { name: legacy }
spec: { pubsubname: everyone, topic: user-deleted, route: /users, metadata: { rawPayload: true } }
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: { name: for-products }
spec: { pubsubname: everyone, topic: t, routes: { default: /t } }
scopes: [products]
`,
      'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n',
      'notes.txt': 'not yaml: [',
    });

    const resources = loadResources([folder], { appId: 'orders', namespace: 'dev' });
    const withoutNamespace = loadResources([folder], { appId: 'orders' });

    expect(resources.components.map((c) => c.name)).toEqual(['everyone', 'mine', 'here']);
    expect(withoutNamespace.components.map((c) => c.name)).toEqual(['everyone', 'mine']);
    expect(resources.subscriptions).toEqual([
      {
        name: 'for-orders',
        pubsubname: 'everyone',
        topic: 'order-cancelled',
        routes: { rules: [{ match: 'event.type == "x"', path: '/x' }], default: '/events' },
        deadLetterTopic: 'dead',
        metadata: {},
      },
      {
        name: 'legacy',
        pubsubname: 'everyone',
        topic: 'user-deleted',
        routes: { rules: [], default: '/users' },
        metadata: { rawPayload: 'true' },
      },
    ]);
  });

  test('envRef reads the given environment; version defaults to v1', () => {
    const folder = resourcesFolder({
      'c.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: store }
spec:
  type: state.postgresql
  metadata:
    - { name: connectionString, envRef: PG_URL }
    - { name: timeout, value: 20 }
`,
    });

    const { components } = loadResources([folder], {
      appId: 'a',
      env: { PG_URL: 'postgres://x' },
    });

    expect(components[0]).toMatchObject({
      version: 'v1',
      metadata: { connectionString: 'postgres://x', timeout: '20' },
    });
    expect(problemsOf([folder], { appId: 'a', env: {} })).toEqual([
      `${path.join(folder, 'c.yaml')}: component store: metadata connectionString needs env PG_URL, which is unset`,
    ]);
  });
});

describe('refusals', () => {
  test('a component type the dev sidecar cannot serve is refused when it applies to the app', () => {
    const folder = resourcesFolder({
      'kafka.yaml': component('events', 'pubsub.kafka'),
      'redis-state.yaml': component('cache', 'state.redis', 'scopes: [products]'),
      'old.yaml': component('legacy', 'state.postgresql').replace('version: v1', 'version: v3'),
    });
    const file = (name: string) => path.join(folder, name);

    const problems = problemsOf([folder], { appId: 'orders' });

    expect(problems).toEqual([
      `component events (pubsub.kafka) in ${file('kafka.yaml')}: the dev sidecar cannot serve this type (it serves: state.postgresql v1/v2, pubsub.redis v1)`,
      `component legacy (state.postgresql v3) in ${file('old.yaml')}: the dev sidecar cannot serve this version (it serves: state.postgresql v1/v2, pubsub.redis v1)`,
    ]);
  });

  test('every problem of every file is listed in one error, without a stack of YAML internals', () => {
    const folder = resourcesFolder({
      'a-broken.yaml': 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: { name: x\n',
      'b-fields.yaml': `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: no-type }
spec:
  version: v1
  metadata:
    - { name: both, value: a, envRef: B }
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: { name: no-topic }
spec: { pubsubname: p, routes: { default: /x }, scopes: [orders] }
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata: { name: outside }
---
apiVersion: dapr.io/v2alpha1
kind: Component
metadata: { name: wrong-version }
`,
      'c-twice.yaml': [component('dup', 'pubsub.redis'), component('dup', 'pubsub.redis')].join(
        '---\n',
      ),
    });
    const file = (name: string) => path.join(folder, name);

    const problems = problemsOf([folder, path.join(folder, 'missing')], { appId: 'orders' });

    expect(problems).toEqual([
      `${file('a-broken.yaml')}: Flow map in block collection must be sufficiently indented and end with a } at line 4, column 1`,
      `resources folder ${path.join(folder, 'missing')} does not exist`,
      `${file('b-fields.yaml')}: Component no-type: spec.type: Invalid input: expected string, received undefined`,
      `${file('b-fields.yaml')}: Component no-type: spec.metadata.0: set only one of value, secretKeyRef and envRef`,
      `${file('b-fields.yaml')}: Subscription no-topic: scopes belongs at the top level, beside spec, not under it`,
      `${file('b-fields.yaml')}: Subscription no-topic: spec.topic: Invalid input: expected string, received undefined`,
      `${file('b-fields.yaml')}: kind HTTPEndpoint is not served by the dev sidecar (it reads Component, Subscription, Resiliency, Configuration)`,
      `${file('b-fields.yaml')}: Component must have apiVersion dapr.io/v1alpha1, not dapr.io/v2alpha1`,
      `component dup is defined twice: in ${file('c-twice.yaml')} and in ${file('c-twice.yaml')}`,
    ]);
  });
});

describe('configuration', () => {
  const configuration = (name: string, spec = '{}') =>
    `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: { name: ${name} }\nspec: ${spec}\n`;

  test('the named one is used; several need a name; a missing name is an error', () => {
    const folder = resourcesFolder({
      'one.yaml': configuration('one', '{ tracing: { samplingRate: 0 } }'),
      'two.yaml': configuration('two', '{ accessControl: { policies: [] , trustDomain: x } }'),
    });

    const one = loadResources([folder], { appId: 'a', configuration: 'one' }).configuration;
    const two = loadResources([folder], { appId: 'a', configuration: 'two' }).configuration;

    expect(one).toEqual({ name: 'one', tracing: { samplingRate: '0' }, features: [] });
    expect(two?.accessControl).toEqual({ defaultAction: 'allow', trustDomain: 'x', policies: [] });
    expect(problemsOf([folder], { appId: 'a' })).toEqual([
      'several configurations (one, two): name the one to use',
    ]);
    expect(problemsOf([folder], { appId: 'a', configuration: 'three' })).toEqual([
      'configuration three not found (found: one, two)',
    ]);
  });

  test('app policies without a global default action deny; a policy needs trustDomain and namespace', () => {
    const folder = resourcesFolder({
      'c.yaml': configuration(
        'c',
        '{ accessControl: { policies: [{ appId: x, trustDomain: public, namespace: n, operations: [{ name: /a, action: Allow }] }] } }',
      ),
    });
    const bad = resourcesFolder({
      'c.yaml': configuration('c', '{ accessControl: { policies: [{ appId: x }] } }'),
    });

    const { configuration: loaded } = loadResources([folder], { appId: 'a' });

    expect(loaded?.accessControl).toEqual({
      defaultAction: 'deny',
      trustDomain: 'public',
      policies: [
        {
          appId: 'x',
          trustDomain: 'public',
          namespace: 'n',
          operations: [{ name: '/a', httpVerb: [], action: 'allow' }],
        },
      ],
    });
    expect(problemsOf([bad], { appId: 'a' })).toEqual([
      `${path.join(bad, 'c.yaml')}: Configuration c: spec.accessControl.policies.0.trustDomain: Invalid input: expected string, received undefined`,
      `${path.join(bad, 'c.yaml')}: Configuration c: spec.accessControl.policies.0.namespace: Invalid input: expected string, received undefined`,
    ]);
  });
});
