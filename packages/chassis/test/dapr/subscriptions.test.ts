import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { z } from 'zod';
import {
  daprSubscriptions,
  defineSubscription,
  type DaprEvent,
  type HandlerOutcome,
} from '../../src/dapr/subscriptions.ts';
import { call, startApp, type AppUnderTest } from '../support.ts';

const appApiToken = 'app-secret';
const orderCancelled = z.object({ orderId: z.uuid(), quantity: z.int().min(1) });

/** What the handler does next, and what it was called with. */
let behaviour: () => Promise<HandlerOutcome>;
const handled: DaprEvent<z.output<typeof orderCancelled>>[] = [];
const logs: { level: number; msg: string; eventId?: string; topic?: string }[] = [];
let app: AppUnderTest;

const subscriptions = [
  defineSubscription({
    topic: 'order-cancelled',
    schema: orderCancelled,
    handle: async (event) => {
      handled.push(event);
      return behaviour();
    },
  }),
  defineSubscription({
    topic: 'user-deleted',
    schema: z.object({ userId: z.uuid() }),
    route: '/events/users/deleted',
    deadLetterTopic: 'users-dlq',
    handle: async () => undefined,
  }),
];

beforeAll(async () => {
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const router = daprSubscriptions({ pubsubName: 'pubsub', appApiToken, logger, subscriptions });
  app = await startApp({ routers: [router] });
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  behaviour = async () => undefined;
  handled.length = 0;
  logs.length = 0;
});

/** A CloudEvent as daprd delivers it (docs/dapr-behaviour.md §4.2). */
const cloudEvent = (data: unknown, id = randomUUID()) => ({
  id,
  specversion: '1.0',
  source: 'orders',
  type: 'com.dapr.event.sent',
  datacontenttype: 'application/json',
  topic: 'order-cancelled',
  pubsubname: 'pubsub',
  traceid: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: '',
  time: '2026-11-21T16:00:00Z',
  data,
});

const deliver = (body: unknown, token: string | null = appApiToken) =>
  call(app.url, 'POST', '/dapr/events/order-cancelled', {
    rawBody: JSON.stringify(body),
    headers: {
      'content-type': 'application/cloudevents+json',
      pubsubname: 'pubsub',
      ...(token === null ? {} : { 'dapr-api-token': token }),
    },
  });

const valid = { orderId: randomUUID(), quantity: 2 };

describe('GET /dapr/subscribe', () => {
  test('lists every subscription with its route and dead-letter topic, without a token', async () => {
    const response = await call(app.url, 'GET', '/dapr/subscribe');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual([
      {
        pubsubname: 'pubsub',
        topic: 'order-cancelled',
        route: '/dapr/events/order-cancelled',
        deadLetterTopic: 'order-cancelled-dead-letter',
      },
      {
        pubsubname: 'pubsub',
        topic: 'user-deleted',
        route: '/events/users/deleted',
        deadLetterTopic: 'users-dlq',
      },
    ]);
  });
});

describe('POST a subscription route', () => {
  test('hands a valid event to the handler once, with parsed data, and answers SUCCESS', async () => {
    const event = cloudEvent({ ...valid, extra: 'stripped by the schema' });

    const response = await deliver(event);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'SUCCESS' });
    expect(handled).toEqual([
      {
        id: event.id,
        topic: 'order-cancelled',
        source: 'orders',
        type: 'com.dapr.event.sent',
        time: '2026-11-21T16:00:00Z',
        data: valid,
      },
    ]);
  });

  test.each([
    ['without a token', null],
    ['with a wrong token', 'guess'],
  ])('refuses a delivery %s: 401 problem, handler not called', async (_what, token) => {
    const response = await deliver(cloudEvent(valid), token);

    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.body).toMatchObject({ status: 401, code: 'invalid-app-token' });
    expect(handled).toHaveLength(0);
  });

  test('drops data that breaks the schema (to the dead letters) and logs a warning with the event id', async () => {
    const event = cloudEvent({ orderId: 'not-a-uuid', quantity: 2 });

    const response = await deliver(event);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'DROP' });
    expect(handled).toHaveLength(0);
    expect(logs).toEqual([
      expect.objectContaining({ level: 40, eventId: event.id, topic: 'order-cancelled' }),
    ]);
  });

  test.each([
    ['a JSON object without CloudEvent fields', { orderId: valid.orderId, quantity: 2 }],
    ['a CloudEvent without an id', { ...cloudEvent(valid), id: '' }],
    ['a JSON array', [cloudEvent(valid)]],
  ])('drops %s: DROP, handler not called', async (_what, body) => {
    const response = await deliver(body);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'DROP' });
    expect(handled).toHaveLength(0);
  });

  test('answers RETRY with an error log when the handler throws', async () => {
    behaviour = async () => {
      throw new Error('database down');
    };

    const response = await deliver(cloudEvent(valid));

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'RETRY' });
    expect(handled).toHaveLength(1);
    expect(logs).toEqual([expect.objectContaining({ level: 50, eventId: handled[0]!.id })]);
  });

  test.each([
    ['retry', 'RETRY'],
    ['drop', 'DROP'],
  ] as const)("answers %s's status when the handler asks for it", async (outcome, status) => {
    behaviour = async () => outcome;

    const response = await deliver(cloudEvent(valid));

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status });
    expect(handled).toHaveLength(1);
  });
});

describe('daprSubscriptions', () => {
  test('refuses a topic subscribed twice', () => {
    const twice = () =>
      daprSubscriptions({
        pubsubName: 'pubsub',
        logger: pino({ level: 'silent' }),
        subscriptions: [subscriptions[0]!, subscriptions[0]!],
      });

    expect(twice).toThrow('topic order-cancelled is subscribed twice');
  });
});
