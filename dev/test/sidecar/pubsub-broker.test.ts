import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createTestDatabase } from '@sidecart/chassis/testing';
import pg from 'pg';
import { waitUntil } from '../../src/processes.ts';
import { cleanUpTestSidecars, startTestSidecar, type TestSidecar } from './harness.ts';

// The broker (dapr-api.md §4.6, §4.7; §9 item 10): consumer groups per app id, competing replicas,
// new groups reading from the start of the stream, redelivery of what a closed sidecar held,
// and expired messages dropped at delivery.

interface Received {
  path: string;
  event: any;
  at: number;
}

/** An app subscribed to `topics`; `hang` decides which deliveries never get an answer. */
async function startApp(topics: string[], hang: (received: Received) => boolean = () => false) {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/dapr/subscribe') {
        // "component:topic", or a topic of the component "pubsub".
        const subscriptions = topics.map((name) => {
          const [pubsubname, topic] = name.includes(':') ? name.split(':') : ['pubsub', name];
          return { pubsubname, topic, route: `/${topic}` };
        });
        return void response.writeHead(200).end(JSON.stringify(subscriptions));
      }
      if (request.method !== 'POST') return void response.writeHead(404).end();
      const delivery = {
        path: request.url!,
        event: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        at: Date.now(),
      };
      received.push(delivery);
      if (!hang(delivery)) response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    ids: (path: string) =>
      received.filter((r) => r.path === path).map((r) => r.event.data.n as number),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
type App = Awaited<ReturnType<typeof startApp>>;

const resources = `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: pubsub }
spec:
  type: pubsub.redis
  version: v1
  metadata:
  - { name: redisHost, value: "localhost:6379" }
  - { name: processingTimeout, value: 1s }
  - { name: redeliverInterval, value: 200ms }
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: broadcast }
spec:
  type: pubsub.redis
  metadata:
  - { name: redisHost, value: "localhost:6379" }
  - { name: consumerID, value: "{podName}" }
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: trimmed }
spec:
  type: pubsub.redis
  metadata:
  - { name: redisHost, value: "localhost:6379" }
  - { name: maxLenApprox, value: "2" }
`;

const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
const range = (count: number) => Array.from({ length: count }, (_, i) => i);

describe('pub/sub broker semantics', () => {
  let databaseUrl: string;
  let db: pg.Pool;
  const apps: App[] = [];
  const sidecars: TestSidecar[] = [];
  let stuckHung = false;

  const start = async (
    appId: string,
    topics: string[],
    hang?: (r: Received) => boolean,
    instanceId?: string,
  ) => {
    const app = await startApp(topics, hang);
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

  let workerA: { app: App; sidecar: TestSidecar };
  let workerB: { app: App; sidecar: TestSidecar };
  let audit: { app: App; sidecar: TestSidecar };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('pubsub_broker');
    db = new pg.Pool({ connectionString: databaseUrl });
    // The first delivery of a "stuck" message is never answered, whichever replica gets it.
    const hangOnce = (r: Received) => r.path === '/stuck' && !stuckHung && (stuckHung = true);
    workerA = await start('workers', ['jobs', 'stuck'], hangOnce);
    workerB = await start('workers', ['jobs', 'stuck'], hangOnce);
    audit = await start('audit', ['jobs', 'expiring']);
  });

  afterAll(async () => {
    await Promise.all(sidecars.map((sidecar) => sidecar.close()));
    await Promise.all(apps.map((app) => app.close()));
    await db?.end();
    cleanUpTestSidecars();
  });

  test('replicas of one app id compete (each message once); another app id gets its own copy', async () => {
    await Promise.all(range(40).map((n) => publish(workerA.sidecar, 'jobs', { n })));

    const workerIds = () => [...workerA.app.ids('/jobs'), ...workerB.app.ids('/jobs')];
    expect(
      await waitUntil(
        () => workerIds().length >= 40 && audit.app.ids('/jobs').length >= 40,
        10_000,
      ),
    ).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(sorted(workerIds())).toEqual(range(40));
    expect(sorted(audit.app.ids('/jobs'))).toEqual(range(40));
  });

  test('a new consumer group starts at the beginning of the stream', async () => {
    const late = await start('late', ['jobs']);

    expect(await waitUntil(() => late.app.ids('/jobs').length >= 40, 10_000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(sorted(late.app.ids('/jobs'))).toEqual(range(40));
  });

  test('what a closed sidecar was delivering goes to the other replica after processingTimeout', async () => {
    await publish(workerB.sidecar, 'stuck', { n: 1 });
    const holder = () => [workerA, workerB].find((worker) => worker.app.ids('/stuck').length > 0);
    expect(await waitUntil(() => holder() !== undefined, 5000)).toBe(true);
    const first = holder()!;
    const other = first === workerA ? workerB : workerA;

    await first.sidecar.close();

    expect(await waitUntil(() => other.app.ids('/stuck').length === 1, 10_000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    const [held] = first.app.received.filter((r) => r.path === '/stuck');
    const [redelivered] = other.app.received.filter((r) => r.path === '/stuck');
    expect(redelivered!.event.id).toBe(held!.event.id);
    expect(redelivered!.at - held!.at).toBeGreaterThanOrEqual(900);
    expect(first.app.ids('/stuck')).toEqual([1]);
  });

  test('an expired message is acked without a delivery', async () => {
    const expired = { id: 'expired-1', data: { n: -1 }, expiration: '2000-01-01T00:00:00Z' };
    await publish(audit.sidecar, 'expiring', expired, 'application/cloudevents+json');
    await publish(audit.sidecar, 'expiring', { n: 2 });

    expect(await waitUntil(() => audit.app.ids('/expiring').length === 1, 5000)).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(audit.app.ids('/expiring')).toEqual([2]);
  });

  test('consumerID {podName} gives every replica its own group: each gets every message', async () => {
    const one = await start('fanout', ['broadcast:news'], undefined, 'fanout-1');
    const two = await start('fanout', ['broadcast:news'], undefined, 'fanout-2');

    await Promise.all(
      range(5).map((n) => publish(one.sidecar, 'news', { n }, undefined, 'broadcast')),
    );

    expect(
      await waitUntil(
        () => one.app.ids('/news').length >= 5 && two.app.ids('/news').length >= 5,
        5000,
      ),
    ).toBe(true);
    expect(await waitUntil(async () => (await pendingCount()) === 0, 5000)).toBe(true);
    expect(sorted(one.app.ids('/news'))).toEqual(range(5));
    expect(sorted(two.app.ids('/news'))).toEqual(range(5));
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
