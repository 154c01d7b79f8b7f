import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z, ZodError } from 'zod';
import { OutboxEvent, recordEvent } from '../../src/messaging/outbox.ts';
import {
  startOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type RelayedEvent,
} from '../../src/messaging/outbox-relay.ts';
import { silentLogger } from '../../src/testing/index.ts';
import { eventually } from '../../src/testing/index.ts';
import { messagingDatabase } from './support.ts';

let db: Awaited<ReturnType<typeof messagingDatabase>>;
let orm: MikroORM;
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  db = await messagingDatabase('chassis_outbox');
  orm = db.orm;
});
beforeEach(() => orm.em.fork().nativeDelete(OutboxEvent, {}));
afterEach(() => Promise.all(relays.splice(0).map((relay) => relay.stop())));
afterAll(() => db.close());

function startRelay(options: Partial<OutboxRelayOptions> & Pick<OutboxRelayOptions, 'publish'>) {
  const relay = startOutboxRelay({ orm, logger: silentLogger(), intervalMs: 10, ...options });
  relays.push(relay);
  return relay;
}

async function recordCommitted(count: number, topic = 'thing-happened'): Promise<string[]> {
  const em = orm.em.fork();
  const events = Array.from({ length: count }, (_, n) => recordEvent(em, { topic, data: { n } }));
  await em.flush();
  return events.map((event) => event.id);
}

const rows = () => orm.em.fork().find(OutboxEvent, {}, { orderBy: { createdAt: 'asc' } });
const publishedCount = () => orm.em.fork().count(OutboxEvent, { publishedAt: { $ne: null } });
const sorted = (ids: string[]) => [...ids].sort();

describe('recordEvent', () => {
  test('stores the event in the caller’s transaction, unpublished', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

    const event = await orm.em
      .fork()
      .transactional(async (em) =>
        recordEvent(em, { topic: 'thing-happened', data: { a: 1 }, traceparent }),
      );

    const [row, ...others] = await rows();
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      id: event.id,
      topic: 'thing-happened',
      data: { a: 1 },
      traceparent,
      publishedAt: null,
      attempts: 0,
      lastError: null,
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('an event recorded in a rolled-back transaction is never stored nor published', async () => {
    const published: string[] = [];
    startRelay({ publish: async (event) => void published.push(event.id) });

    const failed = orm.em.fork().transactional(async (em) => {
      recordEvent(em, { topic: 'thing-happened', data: { n: 0 } });
      await em.flush();
      throw new Error('the change failed');
    });
    await expect(failed).rejects.toThrow('the change failed');
    const [committed] = await recordCommitted(1);

    await eventually('the committed event to be published', () => published.length === 1);
    expect(published).toEqual([committed]);
    expect((await rows()).map((row) => row.id)).toEqual([committed]);
  });

  test('validates data with the schema and stores its output; invalid data throws', async () => {
    const schema = z.object({ userId: z.uuid() });
    const em = orm.em.fork();
    const userId = '0192f1e4-7f6a-7cc0-8a47-8e5b2d3c4f50';
    const withExtraKey = { userId, extra: true };

    const invalid = () =>
      recordEvent(em, { topic: 'user-registered', data: { userId: 'nope' }, schema });
    recordEvent(em, { topic: 'user-registered', data: withExtraKey, schema });
    await em.flush();

    expect(invalid).toThrow(ZodError);
    expect((await rows()).map((row) => row.data)).toEqual([{ userId }]);
  });
});

describe('startOutboxRelay', () => {
  test('publishes each event once with its id, topic, data and traceparent, then marks it', async () => {
    const calls: unknown[] = [];
    const ids = await recordCommitted(3);
    startRelay({
      publish: async ({ id, topic, data, traceparent }) =>
        void calls.push({ id, topic, data, traceparent }),
    }).nudge();

    await eventually('all events marked published', async () => (await publishedCount()) === 3);
    await relays.pop()!.stop();

    expect(calls).toEqual(
      ids.map((id, n) => ({ id, topic: 'thing-happened', data: { n }, traceparent: null })),
    );
    expect((await rows()).map((row) => row.attempts)).toEqual([0, 0, 0]);
  });

  test('a commit that recorded events wakes the relay at once, not at the next poll', async () => {
    const published: string[] = [];
    startRelay({ publish: async (event) => void published.push(event.id), intervalMs: 60_000 });
    await recordCommitted(1);
    await eventually('the first round to finish', async () => (await publishedCount()) === 1);

    const [flushed] = await recordCommitted(1);
    await eventually('the flushed event', () => published.includes(flushed!));
    const inTransaction = await orm.em
      .fork()
      .transactional(async (em) => recordEvent(em, { topic: 'thing-happened', data: {} }));
    await eventually('the transaction’s event', () => published.includes(inTransaction.id));

    expect(published).toHaveLength(3);
  });

  test('commits close together share one round: nothing leaves before the last of them', async () => {
    const published: { id: string; at: number }[] = [];
    startRelay({
      publish: async (event) => void published.push({ id: event.id, at: Date.now() }),
      intervalMs: 60_000,
      batchDelayMs: 1_000,
    });
    await recordCommitted(1);
    await eventually('the first round to finish', async () => (await publishedCount()) === 1);
    published.length = 0;

    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push(...(await recordCommitted(1)));
    const lastCommit = Date.now();
    await eventually('all five', () => published.length === 5);

    expect(sorted(published.map(({ id }) => id))).toEqual(sorted(ids));
    expect(published.filter(({ at }) => at < lastCommit)).toEqual([]);
  });

  test('relays started and stopped in turn share one ORM subscriber; a stopped one is not woken', async () => {
    const subscribers = () => orm.em.getEventManager().getSubscribers().size;
    const first = startRelay({ publish: async () => {}, intervalMs: 60_000 });
    const before = subscribers();
    await first.stop();
    const published: string[] = [];
    startRelay({ publish: async (event) => void published.push(event.id), intervalMs: 60_000 });

    expect(subscribers()).toBe(before);
    const [id] = await recordCommitted(1);
    await eventually('the running relay', () => published.includes(id!));
  });

  test('retries failed publishes with back-off until every event is delivered exactly once', async () => {
    const delivered: string[] = [];
    let calls = 0;
    const ids = await recordCommitted(5);
    startRelay({
      retryDelayMs: 20,
      maxRetryDelayMs: 40,
      publish: async (event) => {
        calls += 1;
        if (calls <= 3) throw new Error('broker down');
        delivered.push(event.id);
      },
    });

    await eventually('all events marked published', async () => (await publishedCount()) === 5);
    await relays.pop()!.stop();

    expect(sorted(delivered)).toEqual(sorted(ids));
    expect(calls).toBe(8);
    const failed = (await rows()).filter((row) => row.attempts > 0);
    expect(failed.map((row) => [row.id, row.attempts, row.lastError])).toEqual(
      ids.slice(0, 3).map((id) => [id, 1, 'broker down']),
    );
  });

  test('waits longer after each failure of an event, doubling up to the cap', async () => {
    const callTimes: number[] = [];
    const [id] = await recordCommitted(1);
    startRelay({
      retryDelayMs: 30,
      maxRetryDelayMs: 60,
      publish: async () => {
        callTimes.push(Date.now());
        throw new Error('broker down');
      },
    });

    await eventually('five attempts', () => callTimes.length >= 5);
    await relays.pop()!.stop();

    const gaps = callTimes.slice(1).map((time, n) => time - callTimes[n]!);
    const minimums = [30, 60, 60, 60];
    minimums.forEach((minimum, n) => expect(gaps[n]).toBeGreaterThanOrEqual(minimum));
    const row = await orm.em.fork().findOneOrFail(OutboxEvent, { id: id! });
    expect(row.attempts).toBe(callTimes.length);
    expect(row.publishedAt).toBeNull();
    // Capped: the next try is planned 60 ms after the last failure, not 2^n × 30 ms.
    const plannedDelay = row.nextAttemptAt.getTime() - callTimes.at(-1)!;
    expect(plannedDelay).toBeGreaterThanOrEqual(60);
    expect(plannedDelay).toBeLessThan(110);
  });

  test('two relays on one table never publish the same event twice', async () => {
    const byRelay = { one: [] as string[], other: [] as string[] };
    const ids = await recordCommitted(200);
    const publishFor = (list: string[]) => async (event: RelayedEvent) => {
      await delay(1); // a broker round trip, so the relays' batches overlap
      list.push(event.id);
    };
    startRelay({ batchSize: 10, publish: publishFor(byRelay.one) });
    startRelay({ batchSize: 10, publish: publishFor(byRelay.other), orm: await db.connect() });

    await eventually('all events marked published', async () => (await publishedCount()) === 200);
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));

    const all = [...byRelay.one, ...byRelay.other];
    expect(all).toHaveLength(200);
    expect(sorted(all)).toEqual(sorted(ids));
    expect(byRelay.one.length).toBeGreaterThan(0);
    expect(byRelay.other.length).toBeGreaterThan(0);
  });

  test('a batch whose relay stalls past the lease is claimed again by another relay, no row kept locked', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stalled: string[] = [];
    const delivered: string[] = [];
    const [id] = await recordCommitted(1);
    startRelay({
      leaseMs: 200,
      publish: async (event) => {
        stalled.push(event.id);
        await gate;
        throw new Error('gave up');
      },
    });
    await eventually('the first relay to stall', () => stalled.length === 1);
    startRelay({
      leaseMs: 200,
      publish: async (event) => void delivered.push(event.id),
      orm: await db.connect(),
    });

    await eventually('the other relay to publish it', () => delivered.length === 1);
    release();
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));

    expect(stalled).toEqual([id]);
    expect(delivered).toEqual([id]);
    const [row] = await rows();
    expect(row!.publishedAt).toBeInstanceOf(Date);
  });

  test('stop() waits for the batch in flight to be published and marked', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let isPublishing = false;
    const [id] = await recordCommitted(1);
    const relay = startOutboxRelay({
      orm,
      logger: silentLogger(),
      publish: async () => {
        isPublishing = true;
        await gate;
      },
    });
    await eventually('the publish to start', () => isPublishing);

    let isStopped = false;
    const stopping = relay.stop().then(() => (isStopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    const stoppedBeforeRelease = isStopped;
    release();
    await stopping;

    expect(stoppedBeforeRelease).toBe(false);
    const row = await orm.em.fork().findOneOrFail(OutboxEvent, { id: id! });
    expect(row.publishedAt).toBeInstanceOf(Date);
  });

  test('deletes published events after the retention, never unpublished ones', async () => {
    const [stuck] = await recordCommitted(1, 'stuck');
    const [sent] = await recordCommitted(1, 'sent');
    const published: string[] = [];
    startRelay({
      retentionMs: 50,
      publish: async (event) => {
        if (event.topic === 'stuck') throw new Error('rejected');
        published.push(event.id);
      },
    });

    await eventually('the published event to be deleted', async () => {
      const left = await rows();
      return left.length === 1 && left;
    });

    expect(published).toEqual([sent]);
    const [row] = await rows();
    expect(row).toMatchObject({ id: stuck, publishedAt: null, lastError: 'rejected' });
  });
});

describe('messagingMigration', () => {
  test('creates exactly what the entities describe: the schema generator finds no difference', async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });

    expect(diff).toBe('');
  });
});
