import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createTestDatabase } from '@sidecart/chassis/testing';
import pg from 'pg';
import { waitUntil } from '../../src/stack/processes.ts';
import { pubsubComponent, startTestSidecar, yamlDocuments, type TestSidecar } from './harness.ts';
import { startSubscriberApp, type Delivery, type SubscriberApp } from './subscriber-app.ts';

// The broker (docs/dapr-behaviour.md §4.6, §4.7; §9 item 10): consumer groups per app id, competing replicas,
// new groups reading from the start of the stream, redelivery of what a closed sidecar held,
// and expired messages dropped at delivery.

/** Subscriptions to "component:topic", or to a topic of the component "pubsub". */
const subscriptionsTo = (topics: string[]) =>
  topics.map((name) => {
    const [pubsubname, topic] = name.includes(':') ? name.split(':') : ['pubsub', name];
    return { pubsubname, topic, route: `/${topic}` };
  });

const resources = yamlDocuments(
  pubsubComponent('pubsub', { processingTimeout: '1s', redeliverInterval: '200ms' }),
  pubsubComponent('broadcast', { consumerID: '{podName}' }),
  pubsubComponent('trimmed', { maxLenApprox: '2' }),
);

/** The `n` of every event delivered to `path`, in arrival order. */
const numbersAt = (app: SubscriberApp, path: string) =>
  app.received.filter((r) => r.path === path).map((r) => r.event.data.n as number);
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
const range = (count: number) => Array.from({ length: count }, (_, i) => i);

describe('pub/sub broker semantics', () => {
  let databaseUrl: string;
  let db: pg.Pool;
  const apps: SubscriberApp[] = [];
  const sidecars: TestSidecar[] = [];
  let stuckHung = false;

  const start = async (
    appId: string,
    topics: string[],
    hang: (delivery: Delivery) => boolean = () => false,
    instanceId?: string,
  ) => {
    const app = await startSubscriberApp(subscriptionsTo(topics), (delivery) =>
      hang(delivery) ? 'hang' : { status: 200 },
    );
    const sidecar = await startTestSidecar({
      appId,
      appPort: app.port,
      resources,
      databaseUrl,
      instanceId,
    });
    await sidecar.appReady;
    apps.push(app);
    sidecars.push(sidecar);
    return { app, sidecar };
  };
  const publish = async (
    sidecar: TestSidecar,
    topic: string,
    body: unknown,
    contentType = 'application/json',
    pubsub = 'pubsub',
  ) => {
    const response = await fetch(`${sidecar.url}/v1.0/publish/${pubsub}/${topic}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(204);
  };
  const pendingCount = async () =>
    Number((await db.query('select count(*) from pubsub_pending')).rows[0].count);

  let workerA: { app: SubscriberApp; sidecar: TestSidecar };
  let workerB: { app: SubscriberApp; sidecar: TestSidecar };
  let audit: { app: SubscriberApp; sidecar: TestSidecar };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('pubsub_broker');
    db = new pg.Pool({ connectionString: databaseUrl });
    // The first delivery of a "stuck" message is never answered, whichever replica gets it.
    const hangOnce = (r: Delivery) => r.path === '/stuck' && !stuckHung && (stuckHung = true);
    workerA = await start('workers', ['jobs', 'stuck'], hangOnce);
    workerB = await start('workers', ['jobs', 'stuck'], hangOnce);
    audit = await start('audit', ['jobs', 'expiring']);
  });

  afterAll(async () => {
    await Promise.all(sidecars.map((sidecar) => sidecar.close()));
    await Promise.all(apps.map((app) => app.close()));
    await db?.end();
  });

  test('replicas of one app id compete (each message once); another app id gets its own copy', async () => {
    await Promise.all(range(40).map((n) => publish(workerA.sidecar, 'jobs', { n })));

    const workerIds = () => [
      ...numbersAt(workerA.app, '/jobs'),
      ...numbersAt(workerB.app, '/jobs'),
    ];
    expect(
      await waitUntil(
        () => workerIds().length >= 40 && numbersAt(audit.app, '/jobs').length >= 40,
        10_000,
      ),
    ).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(sorted(workerIds())).toEqual(range(40));
    expect(sorted(numbersAt(audit.app, '/jobs'))).toEqual(range(40));
  });

  test('a new consumer group starts at the beginning of the stream', async () => {
    const late = await start('late', ['jobs']);

    expect(await waitUntil(() => numbersAt(late.app, '/jobs').length >= 40, 10_000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(sorted(numbersAt(late.app, '/jobs'))).toEqual(range(40));
  });

  test('what a closed sidecar was delivering goes to the other replica after processingTimeout', async () => {
    await publish(workerB.sidecar, 'stuck', { n: 1 });
    const holder = () =>
      [workerA, workerB].find((worker) => numbersAt(worker.app, '/stuck').length > 0);
    expect(await waitUntil(() => holder() !== undefined, 5000)).toBe(true);
    const first = holder()!;
    const other = first === workerA ? workerB : workerA;

    await first.sidecar.close();

    expect(await waitUntil(() => numbersAt(other.app, '/stuck').length === 1, 10_000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    const [held] = first.app.received.filter((r) => r.path === '/stuck');
    const [redelivered] = other.app.received.filter((r) => r.path === '/stuck');
    expect(redelivered!.event.id).toBe(held!.event.id);
    expect(redelivered!.at - held!.at).toBeGreaterThanOrEqual(900);
    expect(numbersAt(first.app, '/stuck')).toEqual([1]);
  });

  test('an expired message is acked without a delivery', async () => {
    const expired = { id: 'expired-1', data: { n: -1 }, expiration: '2000-01-01T00:00:00Z' };
    await publish(audit.sidecar, 'expiring', expired, 'application/cloudevents+json');
    await publish(audit.sidecar, 'expiring', { n: 2 });

    expect(await waitUntil(() => numbersAt(audit.app, '/expiring').length === 1, 5000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(numbersAt(audit.app, '/expiring')).toEqual([2]);
  });

  test('consumerID {podName} gives every replica its own group: each gets every message', async () => {
    const one = await start('fanout', ['broadcast:news'], undefined, 'fanout-1');
    const two = await start('fanout', ['broadcast:news'], undefined, 'fanout-2');

    await Promise.all(
      range(5).map((n) => publish(one.sidecar, 'news', { n }, undefined, 'broadcast')),
    );

    expect(
      await waitUntil(
        () => numbersAt(one.app, '/news').length >= 5 && numbersAt(two.app, '/news').length >= 5,
        5000,
      ),
    ).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(sorted(numbersAt(one.app, '/news'))).toEqual(range(5));
    expect(sorted(numbersAt(two.app, '/news'))).toEqual(range(5));
    const { rows } = await db.query(
      `select g.name from pubsub_groups g join pubsub_streams s on s.id = g.stream_id
       where s.component = 'broadcast' order by g.name`,
    );
    expect(rows.map((row) => row.name)).toEqual(['fanout-1', 'fanout-2']);
  });

  test('maxLenApprox trims the stream to its newest entries', async () => {
    for (const n of range(5)) await publish(audit.sidecar, 'log', { n }, undefined, 'trimmed');

    const { rows } = await db.query(
      `select convert_from(m.data, 'UTF8')::jsonb -> 'data' ->> 'n' as n
       from pubsub_messages m join pubsub_streams s on s.id = m.stream_id
       where s.component = 'trimmed' order by m.seq`,
    );
    expect(rows.map((row) => Number(row.n))).toEqual([3, 4]);
  });
});
