import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
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

const bulkPath = (topic: string) => `/v1.0-alpha1/publish/bulk/pubsub/${topic}`;
const entriesOf = (body: string) =>
  (JSON.parse(body) as { entryId: string }[]).map((entry) => entry.entryId).sort();

async function record(events: { topic: string; data: unknown; traceparent?: string }[]) {
  const em = orm.em.fork();
  const recorded = events.map((event) => recordEvent(em, event));
  await em.flush();
  return recorded;
}

function relayThroughSidecar() {
  return startOutboxRelay({
    orm,
    logger: silentLogger(),
    intervalMs: 10,
    retryDelayMs: 10,
    publish: publishWithDapr(dapr, 'pubsub'),
  });
}

const storedRows = (ids: string[]) =>
  orm.em.fork().find(OutboxEvent, { id: { $in: ids } }, { orderBy: { createdAt: 'asc' } });

describe('publishWithDapr', () => {
  beforeEach(async () => {
    await orm.em.fork().nativeDelete(OutboxEvent, {});
    sidecar.requests.length = 0;
  });

  test('publishes a batch as one bulk call per topic, the outbox id as entry and CloudEvent id', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    sidecar.reply = () => ({ status: 204 });
    const events = await record([
      { topic: 'thing-happened', data: { n: 1 }, traceparent },
      { topic: 'thing-happened', data: { n: 2 } },
      { topic: 'other-thing', data: { n: 3 } },
    ]);
    const ids = events.map((event) => event.id);
    const relay = relayThroughSidecar();

    await eventually('the events to be published', async () =>
      (await storedRows(ids)).every((row) => row.publishedAt),
    );
    await relay.stop();

    const byPath = new Map(
      sidecar.requests.map((request) => [new URL(request.url, 'http://sidecar').pathname, request]),
    );
    expect(sidecar.requests).toHaveLength(2);
    expect([...byPath.keys()].sort()).toEqual([
      bulkPath('other-thing'),
      bulkPath('thing-happened'),
    ]);
    expect(sidecar.requests.map((request) => request.method)).toEqual(['POST', 'POST']);
    expect(JSON.parse(byPath.get(bulkPath('thing-happened'))!.body)).toEqual([
      {
        entryId: ids[0],
        event: { n: 1 },
        contentType: 'application/json',
        metadata: { 'cloudevent.id': ids[0], 'cloudevent.traceparent': traceparent },
      },
      {
        entryId: ids[1],
        event: { n: 2 },
        contentType: 'application/json',
        metadata: { 'cloudevent.id': ids[1] },
      },
    ]);
    expect(entriesOf(byPath.get(bulkPath('other-thing'))!.body)).toEqual([ids[2]]);
    expect((await storedRows(ids)).map((row) => row.attempts)).toEqual([0, 0, 0]);
  });

  test('retries only the entries the sidecar names as failed; the others are published once', async () => {
    let failures = 1;
    const events = await record([
      { topic: 'thing-happened', data: { n: 1 } },
      { topic: 'thing-happened', data: { n: 2 } },
    ]);
    const [taken, refused] = events.map((event) => event.id) as [string, string];
    sidecar.reply = () =>
      failures-- > 0
        ? {
            status: 500,
            body: {
              failedEntries: [{ entryId: refused, error: 'the broker is full' }],
              errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE',
            },
          }
        : { status: 204 };
    const relay = relayThroughSidecar();

    await eventually('both events to be published', async () =>
      (await storedRows([taken, refused])).every((row) => row.publishedAt),
    );
    await relay.stop();

    expect(sidecar.requests.map((request) => entriesOf(request.body))).toEqual([
      [taken, refused].sort(),
      [refused],
    ]);
    const rows = new Map((await storedRows([taken, refused])).map((row) => [row.id, row]));
    expect(rows.get(taken)).toMatchObject({ attempts: 0, lastError: null });
    expect(rows.get(refused)!.attempts).toBe(1);
    expect(rows.get(refused)!.lastError).toMatch(/the broker is full/);
  });

  test('a 500 that names no entry fails every entry of the call: none is marked published', async () => {
    let failures = 1;
    const events = await record([
      { topic: 'thing-happened', data: { n: 1 } },
      { topic: 'thing-happened', data: { n: 2 } },
    ]);
    const ids = events.map((event) => event.id);
    sidecar.reply = () =>
      failures-- > 0
        ? daprError(500, 'ERR_PUBSUB_PUBLISH_MESSAGE', 'error when publishing to topic')
        : { status: 204 };
    const relay = relayThroughSidecar();

    await eventually('both events to be published', async () =>
      (await storedRows(ids)).every((row) => row.publishedAt),
    );
    await relay.stop();

    expect(sidecar.requests.map((request) => entriesOf(request.body))).toEqual([
      [...ids].sort(),
      [...ids].sort(),
    ]);
    for (const row of await storedRows(ids)) {
      expect(row.attempts).toBe(1);
      expect(row.lastError).toMatch(/500 ERR_PUBSUB_PUBLISH_MESSAGE/);
    }
  });
});
