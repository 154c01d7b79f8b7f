import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { waitUntil } from '../../src/stack/processes.ts';
import {
  pendingDeliveries,
  pubsubComponent,
  startTestSidecar,
  storedMessages,
  yamlDocuments,
  type TestSidecar,
} from './harness.ts';
import { startSubscriberApp, type Reply, type SubscriberApp } from './subscriber-app.ts';

// Delivery to the app (docs/dapr-behaviour.md §4.3–§4.5, §9 items 8–9): the subscriber response table, the
// inbound retry policy, dead-lettering, routing rules, and /dapr/subscribe read once.

const resources = yamlDocuments(
  pubsubComponent('pubsub'),
  pubsubComponent('plain'),
  `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: { name: inbound }
spec:
  policies:
    retries:
      thrice: { policy: constant, duration: 10ms, maxRetries: 2 }
  targets:
    components:
      pubsub: { inbound: { retry: thrice } }
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: { name: declared }
spec:
  pubsubname: plain
  topic: declared
  routes: { default: /declared }
scopes: [subscriber]
`,
);

const subscriptions = [
  { pubsubname: 'pubsub', topic: 'outcomes', route: '/outcome', deadLetterTopic: 'outcomes-dlq' },
  { pubsubname: 'pubsub', topic: 'outcomes-dlq', route: '/dead-letters' },
  { pubsubName: 'plain', topic: 'no-policy', route: 'no-policy' },
  {
    pubsubname: 'plain',
    topic: 'routed',
    routes: {
      rules: [
        { match: 'event.type == "special"', path: '/special' },
        { match: 'event.data.n > 10', path: '/big' },
        { match: 'event.data.missing.deep == 1', path: '/never' },
      ],
      default: '/default',
    },
    deadLetterTopic: 'routed-dlq',
  },
  { pubsubname: 'plain', topic: 'routed-dlq', route: '/routed-dead-letters' },
  {
    pubsubname: 'plain',
    topic: 'only-a',
    routes: { rules: [{ match: 'event.data.kind == "a"', path: '/a' }] },
  },
];

describe('pub/sub delivery', () => {
  let app: SubscriberApp;
  let sidecar: TestSidecar;

  beforeAll(async () => {
    app = await startSubscriberApp(subscriptions, ({ path, event }) => {
      if (path === '/outcome') return event.data.reply as Reply;
      if (path === '/no-policy') return { status: 200, body: '{"status":"RETRY"}' };
      return { status: 200 };
    });
    sidecar = await startTestSidecar({ appId: 'subscriber', appPort: app.port, resources });
    await sidecar.appReady;
  });

  afterAll(async () => {
    await sidecar?.close();
    await app?.close();
  });

  const publish = async (pubsub: string, topic: string, data: unknown, query = '') => {
    const response = await fetch(`${sidecar.url}/v1.0/publish/${pubsub}/${topic}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(data),
    });
    expect(response.status).toBe(204);
  };
  const deliveriesOf = (id: string, path?: string) =>
    app.received.filter((r) => r.event.data?.id === id && (!path || r.path === path));
  /** Dead letters are written before the original is acked: counted in the stream itself. */
  const storedOn = (topic: string, id: string) =>
    storedMessages(sidecar, topic, JSON.stringify(id));
  const pendingCount = () => pendingDeliveries(sidecar);

  test('delivers the stored CloudEvent with its content type, pubsubName and metadata as headers', async () => {
    await publish(
      'plain',
      'declared',
      { id: 'headers' },
      '?metadata.tenant=acme&metadata.ttlInSeconds=60',
    );

    expect(await waitUntil(() => deliveriesOf('headers').length === 1, 5000)).toBe(true);
    const [delivery] = deliveriesOf('headers');
    expect(delivery!.path).toBe('/declared');
    expect(delivery!.headers['content-type']).toBe('application/cloudevents+json');
    expect(delivery!.headers['pubsubname']).toBe('plain');
    expect(delivery!.headers['tenant']).toBe('acme');
    expect(delivery!.headers['ttlinseconds']).toBe('60');
    expect(delivery!.event).toMatchObject({
      topic: 'declared',
      pubsubname: 'plain',
      source: 'subscriber',
      data: { id: 'headers' },
    });
    // The body is daprd's encoding of the envelope: keys sorted.
    const keys = Object.keys(delivery!.event);
    expect(keys).toEqual([...keys].sort());
  });

  // Each row: what the app answers, how many attempts the inbound policy (2 retries) makes, and
  // whether the message then goes to the dead-letter topic.
  const rows: { name: string; reply: Reply; attempts: number; dead: boolean }[] = [
    { name: '200 with an empty body', reply: { status: 200 }, attempts: 1, dead: false },
    {
      name: '200 with a non-JSON body',
      reply: { status: 200, body: 'fine' },
      attempts: 1,
      dead: false,
    },
    {
      name: '200 with JSON but no status',
      reply: { status: 200, body: '{"ok":true}' },
      attempts: 1,
      dead: false,
    },
    {
      name: '200 with SUCCESS',
      reply: { status: 200, body: '{"status":"SUCCESS"}' },
      attempts: 1,
      dead: false,
    },
    { name: '204', reply: { status: 204 }, attempts: 1, dead: false },
    {
      name: '200 with RETRY',
      reply: { status: 200, body: '{"status":"RETRY"}' },
      attempts: 3,
      dead: true,
    },
    {
      name: '200 with a lower-case "success"',
      reply: { status: 200, body: '{"status":"success"}' },
      attempts: 3,
      dead: true,
    },
    {
      name: '200 with an unknown status',
      reply: { status: 200, body: '{"status":"LATER"}' },
      attempts: 3,
      dead: true,
    },
    {
      name: '200 with DROP',
      reply: { status: 200, body: '{"status":"DROP"}' },
      attempts: 1,
      dead: true,
    },
    { name: '404', reply: { status: 404 }, attempts: 1, dead: true },
    { name: '500', reply: { status: 500, body: 'boom' }, attempts: 3, dead: true },
    { name: '400', reply: { status: 400 }, attempts: 3, dead: true },
    { name: 'a reset connection', reply: 'reset', attempts: 3, dead: true },
  ];

  test.each(rows)(
    'app answers $name: $attempts attempt(s), dead-lettered: $dead',
    async ({ name, reply, attempts, dead }) => {
      const id = `row-${name}`;
      await publish('pubsub', 'outcomes', { id, reply });

      expect(await waitUntil(() => deliveriesOf(id, '/outcome').length >= attempts, 5000)).toBe(
        true,
      );
      expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
      if (dead) {
        expect(await waitUntil(() => deliveriesOf(id, '/dead-letters').length === 1, 5000)).toBe(
          true,
        );
      }
      expect(deliveriesOf(id, '/outcome')).toHaveLength(attempts);
      expect(await storedOn('outcomes-dlq', id)).toBe(dead ? 1 : 0);
      expect(deliveriesOf(id, '/dead-letters')).toHaveLength(dead ? 1 : 0);
    },
  );

  test('the dead letter is the original message: same id, data and topic field', async () => {
    await publish('pubsub', 'outcomes', { id: 'dead-original', reply: { status: 404 } });

    expect(
      await waitUntil(() => deliveriesOf('dead-original', '/dead-letters').length === 1, 5000),
    ).toBe(true);
    const [original] = deliveriesOf('dead-original', '/outcome');
    const [dead] = deliveriesOf('dead-original', '/dead-letters');
    expect(dead!.body).toBe(original!.body);
    expect(dead!.event.topic).toBe('outcomes');
    expect(dead!.headers['pubsubname']).toBe('pubsub');
  });

  test('without an inbound policy a RETRY is one attempt and the message is acked (daprd ≥ 1.17)', async () => {
    await publish('plain', 'no-policy', { id: 'one-shot' });

    expect(await waitUntil(() => deliveriesOf('one-shot').length === 1, 5000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(deliveriesOf('one-shot')).toHaveLength(1);
  });

  test('CEL rules route in order, then the default; an evaluation error dead-letters', async () => {
    await publish('plain', 'routed', { id: 'typed' }, '?metadata.cloudevent.type=special');
    await publish('plain', 'routed', { id: 'big', n: 11 });
    await publish('plain', 'routed', { id: 'small', n: 1, missing: { deep: 2 } });
    await publish('plain', 'routed', { id: 'broken', n: 1 });

    expect(
      await waitUntil(() => deliveriesOf('broken', '/routed-dead-letters').length === 1, 5000),
    ).toBe(true);
    expect(await waitUntil(() => deliveriesOf('small').length === 1, 5000)).toBe(true);
    expect(deliveriesOf('typed').map((r) => r.path)).toEqual(['/special']);
    expect(deliveriesOf('big').map((r) => r.path)).toEqual(['/big']);
    expect(deliveriesOf('small').map((r) => r.path)).toEqual(['/default']);
    expect(deliveriesOf('broken').map((r) => r.path)).toEqual(['/routed-dead-letters']);
  });

  test('an event no rule matches is acked without a delivery', async () => {
    await publish('plain', 'only-a', { id: 'kind-b', kind: 'b' });
    await publish('plain', 'only-a', { id: 'kind-a', kind: 'a' });

    expect(await waitUntil(() => deliveriesOf('kind-a').length === 1, 5000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(deliveriesOf('kind-b')).toHaveLength(0);
  });

  test('GET /v1.0/metadata lists the components and both kinds of subscription', async () => {
    const body = (await (await fetch(`${sidecar.url}/v1.0/metadata`)).json()) as any;

    expect(body.components).toEqual(
      expect.arrayContaining([
        { name: 'pubsub', type: 'pubsub.redis', version: 'v1' },
        { name: 'plain', type: 'pubsub.redis', version: 'v1' },
      ]),
    );
    expect(body.subscriptions).toEqual([
      {
        pubsubname: 'plain',
        topic: 'declared',
        rules: [{ path: '/declared' }],
        deadLetterTopic: '',
        type: 'DECLARATIVE',
      },
      {
        pubsubname: 'pubsub',
        topic: 'outcomes',
        rules: [{ path: '/outcome' }],
        deadLetterTopic: 'outcomes-dlq',
        type: 'PROGRAMMATIC',
      },
      {
        pubsubname: 'pubsub',
        topic: 'outcomes-dlq',
        rules: [{ path: '/dead-letters' }],
        deadLetterTopic: '',
        type: 'PROGRAMMATIC',
      },
      {
        pubsubname: 'plain',
        topic: 'no-policy',
        rules: [{ path: 'no-policy' }],
        deadLetterTopic: '',
        type: 'PROGRAMMATIC',
      },
      {
        pubsubname: 'plain',
        topic: 'routed',
        rules: [
          { match: 'event.type == "special"', path: '/special' },
          { match: 'event.data.n > 10', path: '/big' },
          { match: 'event.data.missing.deep == 1', path: '/never' },
          { path: '/default' },
        ],
        deadLetterTopic: 'routed-dlq',
        type: 'PROGRAMMATIC',
      },
      {
        pubsubname: 'plain',
        topic: 'routed-dlq',
        rules: [{ path: '/routed-dead-letters' }],
        deadLetterTopic: '',
        type: 'PROGRAMMATIC',
      },
      {
        pubsubname: 'plain',
        topic: 'only-a',
        rules: [{ match: 'event.data.kind == "a"', path: '/a' }],
        deadLetterTopic: '',
        type: 'PROGRAMMATIC',
      },
    ]);
  });

  test('/dapr/subscribe was read exactly once', () => {
    expect(app.subscribeCalls()).toBe(1);
  });
});

describe('GET /dapr/subscribe answers that give no subscriptions', () => {
  const answers: [string, number, string][] = [
    ['404', 404, ''],
    ['500', 500, '[]'],
    ['a JSON object', 200, '{"pubsubname":"plain","topic":"t","route":"/t"}'],
    [
      'a bad CEL rule',
      200,
      '[{"pubsubname":"plain","topic":"t","routes":{"rules":[{"match":"event.","path":"/t"}]}}]',
    ],
  ];

  test.each(answers)(
    '%s: only the declarative subscription remains',
    async (_name, status, body) => {
      let calls = 0;
      const server = http.createServer((request, response) => {
        if (request.url === '/dapr/subscribe') calls += 1;
        response.writeHead(request.url === '/dapr/subscribe' ? status : 404).end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const sidecar = await startTestSidecar({
        appId: 'subscriber',
        appPort: (server.address() as AddressInfo).port,
        resources,
      });
      try {
        await sidecar.appReady;
        const metadata = (await (await fetch(`${sidecar.url}/v1.0/metadata`)).json()) as any;

        expect(calls).toBe(1);
        expect(metadata.subscriptions).toEqual([
          {
            pubsubname: 'plain',
            topic: 'declared',
            rules: [{ path: '/declared' }],
            deadLetterTopic: '',
            type: 'DECLARATIVE',
          },
        ]);
      } finally {
        await sidecar.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});
