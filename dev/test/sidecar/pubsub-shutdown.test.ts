import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createTestDatabase } from '@sidecart/chassis/testing';
import pg from 'pg';
import { waitUntil } from '../../src/stack/processes.ts';
import { ensureSchema } from '../../src/sidecar/pubsub/broker.ts';
import { pubsubComponent, startTestSidecar, yamlDocuments, type TestSidecar } from './harness.ts';
import { startSubscriberApp, type Reply, type SubscriberApp } from './subscriber-app.ts';

// Deliveries that retry forever still end (docs/dapr-behaviour.md §4.7): at close, and at processingTimeout,
// after which the entry is someone else's; and a consumer that could not start starts later.

/** Component settings of one replica, with an inbound retry policy that never gives up. */
const replicaResources = (metadata: Record<string, string>) =>
  yamlDocuments(
    pubsubComponent('pubsub', metadata),
    `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: { name: inbound }
spec:
  policies:
    retries:
      forever: { policy: constant, duration: 20ms, maxRetries: -1 }
  targets:
    components:
      pubsub: { inbound: { retry: forever } }
`,
  );

const failing = (): Reply => ({ status: 500 });

describe('pub/sub deliveries cut short', () => {
  let databaseUrl: string;
  let db: pg.Pool;
  const apps: SubscriberApp[] = [];
  const sidecars: TestSidecar[] = [];

  const startReplica = async (
    appId: string,
    topics: string[],
    metadata: Record<string, string>,
    reply: () => Reply,
  ) => {
    const subscriptions = topics.map((topic) => ({
      pubsubname: 'pubsub',
      topic,
      route: `/${topic}`,
      deadLetterTopic: `${topic}-dead`,
    }));
    const app = await startSubscriberApp(subscriptions, reply);
    apps.push(app);
    const resources = replicaResources(metadata);
    const sidecar = await startTestSidecar({ appId, appPort: app.port, resources, databaseUrl });
    sidecars.push(sidecar);
    await sidecar.appReady;
    return { app, sidecar };
  };
  const publish = async (sidecar: TestSidecar, topic: string, n: number) => {
    const response = await fetch(`${sidecar.url}/v1.0/publish/pubsub/${topic}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n }),
    });
    expect(response.status).toBe(204);
  };
  const attemptsAt = (app: SubscriberApp, topic: string) =>
    app.received.filter((r) => r.path === `/${topic}`).length;
  /** Pending entries of the group `appId`, by owner. */
  const pendingOf = async (appId: string) => {
    const { rows } = await db.query<{ consumer: string }>(
      `select p.consumer from pubsub_pending p join pubsub_groups g on g.id = p.group_id
       where g.name = $1`,
      [appId],
    );
    return rows.map((row) => row.consumer);
  };
  const storedOn = async (topic: string) => {
    const { rows } = await db.query(
      `select count(*) from pubsub_messages m join pubsub_streams s on s.id = m.stream_id
       where s.topic = $1`,
      [topic],
    );
    return Number(rows[0].count);
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('pubsub_shutdown');
    db = new pg.Pool({ connectionString: databaseUrl });
  });

  afterAll(async () => {
    await Promise.all(sidecars.map((sidecar) => sidecar.close()));
    await Promise.all(apps.map((app) => app.close()));
    await db?.end();
  });

  test('close() ends a delivery retrying forever; the entry stays pending for another replica', async () => {
    // Redelivery off on the first replica: only its closing can end the retries.
    const first = await startReplica('closing', ['work'], { redeliverInterval: '0' }, failing);
    await publish(first.sidecar, 'work', 1);
    expect(await waitUntil(() => attemptsAt(first.app, 'work') >= 3, 5000)).toBe(true);

    const closed = first.sidecar.close().then(() => true);
    const deadline = new Promise<false>((resolve) => setTimeout(resolve, 10_000, false).unref());

    expect(await Promise.race([closed, deadline])).toBe(true);
    const attemptsBeforeClose = attemptsAt(first.app, 'work');
    expect(await pendingOf('closing')).toHaveLength(1);
    expect(await storedOn('work-dead')).toBe(0);

    const second = await startReplica(
      'closing',
      ['work'],
      { processingTimeout: '1s', redeliverInterval: '100ms' },
      () => ({ status: 200 }),
    );

    expect(await waitUntil(() => attemptsAt(second.app, 'work') === 1, 10_000)).toBe(true);
    expect(await waitUntil(async () => (await pendingOf('closing')).length === 0, 5000)).toBe(true);
    const [held] = first.app.received;
    const [redelivered] = second.app.received.filter((r) => r.path === '/work');
    expect(redelivered!.event.id).toBe(held!.event.id);
    expect(attemptsAt(first.app, 'work')).toBe(attemptsBeforeClose);
    expect(await storedOn('work-dead')).toBe(0);
  });

  test('at processingTimeout the retries stop: the replica that reclaims the entry is the only one delivering it', async () => {
    // The first replica never reclaims (its first claim runs at start), so the second one does.
    const first = await startReplica(
      'reclaimed',
      ['slow'],
      { processingTimeout: '1s', redeliverInterval: '1h' },
      failing,
    );
    await publish(first.sidecar, 'slow', 1);
    expect(await waitUntil(() => attemptsAt(first.app, 'slow') >= 1, 5000)).toBe(true);
    const second = await startReplica(
      'reclaimed',
      ['slow'],
      { processingTimeout: '1s', redeliverInterval: '100ms' },
      failing,
    );

    expect(await waitUntil(() => attemptsAt(second.app, 'slow') >= 3, 10_000)).toBe(true);
    const firstAttempts = attemptsAt(first.app, 'slow');
    expect(await waitUntil(() => attemptsAt(second.app, 'slow') >= 15, 5000)).toBe(true);

    expect(firstAttempts).toBeGreaterThan(3);
    expect(attemptsAt(first.app, 'slow')).toBe(firstAttempts);
    expect(await pendingOf('reclaimed')).toEqual([expect.stringMatching(/^reclaimed-/)]);
    expect(await storedOn('slow-dead')).toBe(0);
  });

  test('a consumer group the database refuses: nothing is read, and the start is retried until it works', async () => {
    await ensureSchema(db);
    await db.query(`
      create function refuse_group() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from pubsub_streams where id = new.stream_id and topic = 'refused') then
          raise exception 'group refused';
        end if;
        return new;
      end $$;
      create trigger refuse_group before insert on pubsub_groups
        for each row execute function refuse_group();`);
    const replica = await startReplica('split', ['accepted', 'refused'], {}, () => ({
      status: 200,
    }));
    await publish(replica.sidecar, 'accepted', 1);

    // Nothing reads 'accepted' yet (the window covers a reader's 1 s poll): no entry is taken
    // into a pending list no worker serves.
    expect(await waitUntil(async () => (await pendingOf('split')).length > 0, 1500)).toBe(false);
    expect(replica.app.received).toHaveLength(0);
    await db.query('drop trigger refuse_group on pubsub_groups');
    await publish(replica.sidecar, 'refused', 2);

    expect(await waitUntil(() => replica.app.received.length === 2, 10_000)).toBe(true);
    expect(await waitUntil(async () => (await pendingOf('split')).length === 0, 5000)).toBe(true);
    expect(replica.app.received.map((r) => [r.path, r.event.data.n]).sort()).toEqual([
      ['/accepted', 1],
      ['/refused', 2],
    ]);
  });
});
