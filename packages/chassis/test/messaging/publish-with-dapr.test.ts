import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createDaprClient, type Dapr } from '../../src/dapr/client.ts';
import { OutboxEvent, recordEvent } from '../../src/messaging/outbox.ts';
import { publishWithDapr, startOutboxRelay } from '../../src/messaging/outbox-relay.ts';
import { silentLogger } from '../../src/testing/index.ts';
import { daprError, startFakeSidecar, type FakeSidecar } from '../dapr/fake-sidecar.ts';
import { eventually } from '../../src/testing/index.ts';
import { messagingDatabase } from './support.ts';

let db: Awaited<ReturnType<typeof messagingDatabase>>;
let orm: MikroORM;
let sidecar: FakeSidecar;
let dapr: Dapr;

beforeAll(async () => {
  db = await messagingDatabase('chassis_outbox_dapr');
  orm = db.orm;
  sidecar = await startFakeSidecar();
  dapr = createDaprClient({
    host: '127.0.0.1',
    port: sidecar.port,
    timeoutMs: 2000,
    logger: silentLogger(),
  });
});
afterAll(async () => {
  await dapr.close();
  await sidecar.close();
  await db.close();
});

describe('publishWithDapr', () => {
  test('publishes the outbox event through the sidecar with its id as the CloudEvent id', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    let failures = 1;
    sidecar.reply = () =>
      failures-- > 0
        ? daprError(500, 'ERR_PUBSUB_PUBLISH_MESSAGE', 'error when publishing to topic')
        : { status: 204 };
    const em = orm.em.fork();
    const event = recordEvent(em, { topic: 'thing-happened', data: { n: 1 }, traceparent });
    await em.flush();
    const relay = startOutboxRelay({
      orm,
      logger: silentLogger(),
      intervalMs: 10,
      retryDelayMs: 10,
      publish: publishWithDapr(dapr, 'pubsub'),
    });

    const row = await eventually('the event to be published', async () => {
      const stored = await orm.em.fork().findOneOrFail(OutboxEvent, { id: event.id });
      return stored.publishedAt && stored;
    });
    await relay.stop();

    expect(sidecar.requests).toHaveLength(2);
    for (const request of sidecar.requests) {
      const url = new URL(request.url, 'http://sidecar');
      expect([request.method, url.pathname]).toEqual([
        'POST',
        '/v1.0/publish/pubsub/thing-happened',
      ]);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        'metadata.cloudevent.id': event.id,
        'metadata.cloudevent.traceparent': traceparent,
      });
      expect(JSON.parse(request.body)).toEqual({ n: 1 });
    }
    expect(row.attempts).toBe(1);
    expect(row.lastError).toMatch(/500 ERR_PUBSUB_PUBLISH_MESSAGE/);
  });
});
