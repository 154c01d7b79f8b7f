import http, { type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { waitUntil } from '../../src/stack/processes.ts';
import {
  createSdkClient,
  pubsubComponent,
  startTestSidecar,
  storedMessages,
  yamlDocuments,
  type TestSidecar,
} from './harness.ts';
import { startSubscriberApp, type Delivery, type SubscriberApp } from './subscriber-app.ts';

// Publishing (docs/dapr-behaviour.md §4.1, §4.2, §7; §9 item 8): the CloudEvent envelope daprd makes, the
// caller's own CloudEvents, metadata overrides, errors, bulk publish and the JS SDK.

const resources = yamlDocuments(
  pubsubComponent('pubsub'),
  pubsubComponent('guarded', {
    allowedTopics: 'open,vault',
    protectedTopics: 'vault',
    publishingScopes: 'someone-else=vault',
  }),
);

const errorInfo = (reason: string, metadata: Record<string, unknown>) => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  domain: 'dapr.io',
  metadata,
  reason,
});
const resourceInfo = (name: string, description: string) => ({
  '@type': 'type.googleapis.com/google.rpc.ResourceInfo',
  description,
  owner: '',
  resource_name: name,
  resource_type: 'pubsub',
});

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const secondPrecision = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/;

describe('POST /v1.0/publish/{pubsub}/{topic}', () => {
  let app: SubscriberApp;
  let sidecar: TestSidecar;
  let bare: TestSidecar;

  beforeAll(async () => {
    app = await startSubscriberApp([
      { pubsubname: 'pubsub', topic: 'events', route: '/events' },
      { pubsubname: 'pubsub', topic: 'raw', route: '/raw', metadata: { rawPayload: 'true' } },
    ]);
    sidecar = await startTestSidecar({ appId: 'publisher', appPort: app.port, resources });
    await sidecar.appReady;
    bare = await startTestSidecar({ appId: 'bare', databaseUrl: sidecar.databaseUrl });
  });

  afterAll(async () => {
    await sidecar?.close();
    await bare?.close();
    await app?.close();
  });

  /** A raw HTTP request, so that no Content-Type is added when none is given. */
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>(
      (resolve, reject) => {
        const request = http.request(`${sidecar.url}${path}`, { method: 'POST', headers });
        request.once('error', reject);
        request.once('response', (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('end', () =>
            resolve({
              status: response.statusCode!,
              headers: response.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        });
        request.end(body);
      },
    );
  const publishAndReceive = async (
    query: string,
    body: string | Buffer,
    headers: Record<string, string>,
    marker: (received: Delivery) => boolean,
    topic = 'events',
  ) => {
    const response = await post(`/v1.0/publish/pubsub/${topic}${query}`, body, headers);
    expect(response.status).toBe(204);
    expect(response.body).toBe('');
    expect(await waitUntil(() => app.received.some(marker), 5000)).toBe(true);
    return app.received.filter(marker);
  };

  test('JSON data: the exact envelope, keys sorted, numbers kept, HTML characters escaped as Go does', async () => {
    const before = Date.now();
    const [delivery] = await publishAndReceive(
      '',
      '{"order": 42, "big": 12345678901234567890, "tag": "<a&b>"}',
      { 'content-type': 'application/json' },
      (r) => r.event.data?.order === 42,
    );

    const event = delivery!.event;
    expect(Object.keys(event)).toEqual([
      'data',
      'datacontenttype',
      'id',
      'pubsubname',
      'source',
      'specversion',
      'time',
      'topic',
      'traceid',
      'traceparent',
      'tracestate',
      'type',
    ]);
    expect(event).toMatchObject({
      datacontenttype: 'application/json',
      pubsubname: 'pubsub',
      source: 'publisher',
      specversion: '1.0',
      topic: 'events',
      traceid: '',
      traceparent: '',
      tracestate: '',
      type: 'com.dapr.event.sent',
    });
    expect(event.id).toMatch(uuidV4);
    expect(event.time).toMatch(secondPrecision);
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(event.time)).toBeLessThanOrEqual(Date.now());
    expect(delivery!.body).toContain(
      '"data":{"big":12345678901234567890,"order":42,"tag":"\\u003ca\\u0026b\\u003e"}',
    );
  });

  test('JSON data: keys sorted by their UTF-8 bytes and \\b, \\f kept short, as Go 1.22+ writes them', async () => {
    // JS string order would put U+1F600 (a surrogate pair) before U+FF01; UTF-8 order does not.
    const [delivery] = await publishAndReceive(
      '',
      '{"\u{1F600}": 1, "\uFF01": 2, "s": "a\\bb\\fc", "marker": "go-order"}',
      { 'content-type': 'application/json' },
      (r) => r.event.data?.marker === 'go-order',
    );

    expect(delivery!.body).toContain(
      '"data":{"marker":"go-order","s":"a\\bb\\fc","\uFF01":2,"\u{1F600}":1}',
    );
  });

  test('text, missing and unparseable-JSON content types keep the data as a string', async () => {
    const [text] = await publishAndReceive(
      '',
      'plain words',
      {
        'content-type': 'text/plain; charset=utf-8',
      },
      (r) => r.event.data === 'plain words',
    );
    const [none] = await publishAndReceive('', 'no type', {}, (r) => r.event.data === 'no type');
    const [broken] = await publishAndReceive(
      '',
      '{not json',
      {
        'content-type': 'application/json',
      },
      (r) => r.event.data === '{not json',
    );

    expect(text!.event.datacontenttype).toBe('text/plain; charset=utf-8');
    expect(none!.event.datacontenttype).toBe('text/plain');
    expect(broken!.event.datacontenttype).toBe('application/json');
  });

  test('application/octet-stream data travels as data_base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const [delivery] = await publishAndReceive(
      '',
      bytes,
      {
        'content-type': 'application/octet-stream',
      },
      (r) => r.event.data_base64 === bytes.toString('base64'),
    );

    expect(delivery!.event).not.toHaveProperty('data');
    expect(delivery!.event.datacontenttype).toBe('application/octet-stream');
  });

  test("a caller's CloudEvent keeps its fields; topic and pubsubname are forced, defaults added", async () => {
    const own = {
      specversion: '1.0',
      id: 'caller-1',
      source: 'shop',
      type: 'order.placed',
      topic: 'elsewhere',
      datacontenttype: 'application/json',
      data: { n: 1 },
    };
    const [kept] = await publishAndReceive(
      '',
      JSON.stringify(own),
      {
        'content-type': 'application/cloudevents+json',
      },
      (r) => r.event.id === 'caller-1',
    );
    const [defaulted] = await publishAndReceive(
      '',
      JSON.stringify({ id: 'caller-2', data: 'x' }),
      {
        'content-type': 'application/cloudevents+json',
      },
      (r) => r.event.id === 'caller-2',
    );

    expect(kept!.event).toEqual({
      ...own,
      topic: 'events',
      pubsubname: 'pubsub',
      time: expect.stringMatching(secondPrecision),
      traceid: '',
      traceparent: '',
      tracestate: '',
    });
    expect(defaulted!.event).toMatchObject({
      source: 'Dapr',
      type: 'com.dapr.event.sent',
      specversion: '1.0',
    });
  });

  test('metadata.cloudevent.* overrides the id (stable across publishes), source, type and subject', async () => {
    const query =
      '?metadata.cloudevent.id=outbox-7&metadata.cloudevent.source=orders' +
      '&metadata.cloudevent.type=order.paid&metadata.cloudevent.subject=order-7';
    await post(`/v1.0/publish/pubsub/events${query}`, '{"n":1}', {
      'content-type': 'application/json',
    });
    const deliveries = await publishAndReceive(
      query,
      '{"n":2}',
      {
        'content-type': 'application/json',
      },
      (r) => r.event.id === 'outbox-7',
    );
    expect(
      await waitUntil(
        () => app.received.filter((r) => r.event.id === 'outbox-7').length === 2,
        5000,
      ),
    ).toBe(true);

    for (const delivery of app.received.filter((r) => r.event.id === 'outbox-7')) {
      expect(delivery.event).toMatchObject({
        source: 'orders',
        type: 'order.paid',
        subject: 'order-7',
      });
    }
    expect(deliveries.length).toBeGreaterThanOrEqual(1);
  });

  test('the trace context goes into the envelope; only traceparent comes back out as a header', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const [delivery] = await publishAndReceive(
      '',
      '"traced"',
      {
        'content-type': 'application/json',
        traceparent,
        tracestate: 'vendor=1',
      },
      (r) => r.event.data === 'traced',
    );

    expect(delivery!.event).toMatchObject({
      traceid: traceparent,
      traceparent,
      tracestate: 'vendor=1',
    });
    expect(delivery!.headers.traceparent).toBe(traceparent);
    expect(delivery!.headers.tracestate).toBeUndefined();
  });

  test('ttlInSeconds adds an RFC3339 UTC expiration', async () => {
    const before = Date.now();
    const [delivery] = await publishAndReceive(
      '?metadata.ttlInSeconds=120',
      '"short-lived"',
      {
        'content-type': 'application/json',
      },
      (r) => r.event.data === 'short-lived',
    );

    expect(delivery!.event.expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const expiresAt = Date.parse(delivery!.event.expiration);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 120_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(delivery!.headers.ttlinseconds).toBe('120');
  });

  test('rawPayload publishes the bare body; a rawPayload subscription gets a Dapr-made envelope', async () => {
    const [delivery] = await publishAndReceive(
      '?metadata.rawPayload=true',
      'raw bytes',
      {
        'content-type': 'text/plain',
      },
      (r) => r.path === '/raw',
      'raw',
    );

    expect(delivery!.event).toEqual({
      id: expect.stringMatching(uuidV4),
      specversion: '1.0',
      datacontenttype: 'application/octet-stream',
      source: 'Dapr',
      type: 'com.dapr.event.sent',
      topic: 'raw',
      pubsubname: 'pubsub',
      data_base64: Buffer.from('raw bytes').toString('base64'),
    });
  });

  test('a cloudevents+json body that is not a JSON object answers 500 ERR_PUBSUB_CLOUD_EVENTS_SER', async () => {
    const response = await post('/v1.0/publish/pubsub/events', '[1]', {
      'content-type': 'application/cloudevents+json',
    });

    expect(response.status).toBe(500);
    const body = JSON.parse(response.body);
    expect(body).toMatchObject({
      errorCode: 'ERR_PUBSUB_CLOUD_EVENTS_SER',
      message: 'cannot create cloudevent',
    });
    expect(body.details).toEqual([
      resourceInfo('pubsub', 'cannot create cloudevent'),
      errorInfo('DAPR_PUBSUB_CLOUD_EVENT_CREATION', {
        appID: 'publisher',
        error: expect.any(String),
      }),
    ]);
  });

  test('an unknown pubsub answers 404 ERR_PUBSUB_NOT_FOUND with the request metadata', async () => {
    const response = await post('/v1.0/publish/nope/events?metadata.tenant=acme', '{}');

    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body)).toEqual({
      errorCode: 'ERR_PUBSUB_NOT_FOUND',
      message: 'pubsub nope is not found',
      details: [errorInfo('DAPR_PUBSUB_NOT_FOUND', { tenant: 'acme' })],
    });
  });

  test('a rawPayload that is not a boolean answers 400 ERR_PUBSUB_REQUEST_METADATA', async () => {
    const response = await post('/v1.0/publish/pubsub/events?metadata.rawPayload=maybe', '{}');

    const message =
      "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'maybe'";
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      errorCode: 'ERR_PUBSUB_REQUEST_METADATA',
      message,
      details: [
        resourceInfo('pubsub', message),
        errorInfo('DAPR_PUBSUB_METADATA_DESERIALIZATION', { rawPayload: 'maybe' }),
      ],
    });
  });

  test('allowedTopics and protectedTopics scoping answer 403 ERR_PUBSUB_FORBIDDEN', async () => {
    const open = await post('/v1.0/publish/guarded/open', '{}');
    const closed = await post('/v1.0/publish/guarded/closed', '{}');
    const vault = await post('/v1.0/publish/guarded/vault', '{}');

    expect(open.status).toBe(204);
    for (const [response, topic] of [
      [closed, 'closed'],
      [vault, 'vault'],
    ] as const) {
      const message = `topic ${topic} is not allowed for app id publisher`;
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toEqual({
        errorCode: 'ERR_PUBSUB_FORBIDDEN',
        message,
        details: [
          resourceInfo('guarded', message),
          errorInfo('DAPR_PUBSUB_FORBIDDEN', { error: message, topic }),
        ],
      });
    }
  });

  test('without any pubsub component publishing answers 404 ERR_PUBSUB_NOT_FOUND', async () => {
    const response = await fetch(`${bare.url}/v1.0/publish/pubsub/events`, {
      method: 'POST',
      body: '{}',
    });

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      errorCode: 'ERR_PUBSUB_NOT_FOUND',
      message: 'pubsub pubsub is not found',
      details: [errorInfo('DAPR_PUBSUB_NOT_FOUND', {})],
    });
  });

  test('a GET on the publish path falls through to service invocation', async () => {
    const response = await fetch(`${sidecar.url}/v1.0/publish/pubsub/events`);

    expect(response.status).toBe(404);
    expect(((await response.json()) as any).errorCode).toBe('ERR_DIRECT_INVOKE');
  });

  test('@dapr/dapr pubsub.publish resolves {} and delivers; an unknown pubsub resolves { error }', async () => {
    const client = createSdkClient(sidecar);
    try {
      const published = await client.pubsub.publish('pubsub', 'events', { via: 'sdk' });
      const unknown = await client.pubsub.publish('nope', 'events', { via: 'sdk-unknown' });

      expect(published).toEqual({});
      expect(unknown.error).toBeDefined();
      expect(
        await waitUntil(() => app.received.some((r) => r.event.data?.via === 'sdk'), 5000),
      ).toBe(true);
      const [delivery] = app.received.filter((r) => r.event.data?.via === 'sdk');
      expect(delivery!.event.datacontenttype).toBe('application/json');
    } finally {
      await client.stop();
    }
  });
});

describe('POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}', () => {
  let app: SubscriberApp;
  let sidecar: TestSidecar;

  beforeAll(async () => {
    app = await startSubscriberApp([{ pubsubname: 'pubsub', topic: 'batch', route: '/batch' }]);
    sidecar = await startTestSidecar({
      appId: 'bulk',
      appPort: app.port,
      resources: pubsubComponent('pubsub'),
    });
    await sidecar.appReady;
  });

  afterAll(async () => {
    await sidecar?.close();
    await app?.close();
  });

  const bulk = (entries: unknown) =>
    fetch(`${sidecar.url}/v1.0-alpha1/publish/bulk/pubsub/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(entries),
    });

  test('publishes every entry as its own CloudEvent, entry metadata applied', async () => {
    const response = await bulk([
      { entryId: '1', event: { n: 1 }, contentType: 'application/json' },
      {
        entryId: '2',
        event: 'two',
        contentType: 'text/plain',
        metadata: { 'cloudevent.id': 'bulk-2' },
      },
    ]);

    expect(response.status).toBe(204);
    expect(await waitUntil(() => app.received.length === 2, 5000)).toBe(true);
    const byData = Object.fromEntries(
      app.received.map((r) => [JSON.stringify(r.event.data), r.event]),
    );
    expect(byData['{"n":1}']).toMatchObject({
      datacontenttype: 'application/json',
      source: 'bulk',
    });
    expect(byData['"two"']).toMatchObject({ id: 'bulk-2', datacontenttype: 'text/plain' });
  });

  test('a duplicated entryId answers 400 ERR_PUBSUB_EVENTS_SER and publishes nothing', async () => {
    const before = app.received.length;
    const response = await bulk([
      { entryId: 'a', event: 1, contentType: 'application/json' },
      { entryId: 'a', event: 2, contentType: 'application/json' },
    ]);

    const description = 'error marshaling events to bytes for topic batch pubsub pubsub';
    const cause = 'entryId is duplicated or not present for entry';
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errorCode: 'ERR_PUBSUB_EVENTS_SER',
      message: `${description}. error: ${cause}`,
      details: [
        resourceInfo('pubsub', `${description}. error: ${cause}`),
        errorInfo('DAPR_PUBSUB_MARSHAL_EVENTS', { appID: 'bulk', error: cause }),
      ],
    });
    // Only the two entries of the first bulk publish are on the topic.
    expect(await storedMessages(sidecar, 'batch', '')).toBe(2);
    expect(app.received.length).toBe(before);
  });
});
