import { setTimeout as delay } from 'node:timers/promises';
import type { EntityManager, EventSubscriber } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Dapr } from '../dapr/client.ts';
import type { Logger } from '../logger.ts';
import { runPrepared } from '../orm/prepared.ts';
import { OutboxEvent } from './outbox.ts';

/** An event as the relay claimed it from the outbox. */
export type RelayedEvent = Pick<
  OutboxEvent,
  'id' | 'topic' | 'data' | 'traceparent' | 'createdAt' | 'attempts'
>;

/** Sends one event (its `id` as the CloudEvent id); throws when the broker did not take it. */
export type PublishEvent = (event: RelayedEvent) => Promise<void>;

/** Sends a batch at once; resolves with the events the broker did not take, by id, with why. */
export interface BatchPublisher {
  publishBatch(events: RelayedEvent[]): Promise<Map<string, unknown>>;
}

/**
 * Publishes through the Dapr sidecar, a batch as one bulk publish per topic: the outbox id becomes
 * the CloudEvent id (docs/dapr-behaviour.md §4.1 `cloudevent.id`), so a re-published event keeps
 * its id and consumers' inboxes drop the copy. A topic whose call fails as a whole fails each of
 * its events.
 */
export const publishWithDapr = (
  dapr: Pick<Dapr, 'publishBulk'>,
  pubsub: string,
): BatchPublisher => ({
  async publishBatch(events) {
    const failed = new Map<string, unknown>();
    const byTopic = Map.groupBy(events, (event) => event.topic);
    await Promise.all(
      Array.from(byTopic, async ([topic, ofTopic]) => {
        const entries = ofTopic.map(({ id, data, traceparent }) => ({
          id,
          data,
          traceparent: traceparent ?? undefined,
        }));
        try {
          const refused = await dapr.publishBulk(pubsub, topic, entries);
          for (const { id, error } of refused) failed.set(id, error);
        } catch (error) {
          for (const { id } of ofTopic) failed.set(id, error);
        }
      }),
    );
    return failed;
  },
});

export interface OutboxRelayOptions {
  orm: MikroORM;
  /**
   * One event at a time, or a whole batch at once. Must give up well within `leaseMs`: after it,
   * another round may claim the batch's events again (and publish them twice).
   */
  publish: PublishEvent | BatchPublisher;
  /** How long a claimed batch is left to this relay before any relay may claim it again. */
  leaseMs?: number;
  logger: Logger;
  batchSize?: number;
  /** How often to look for events when no commit nudged the relay. */
  intervalMs?: number;
  /**
   * How long a nudge waits before its round, so that commits landing meanwhile share it: one
   * claim and one update for all their events instead of a transaction each (busy services).
   */
  batchDelayMs?: number;
  /** Back-off after a failed publish: doubles from `retryDelayMs` up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Published events are kept this long (for inspection), then deleted. */
  retentionMs?: number;
}

export interface OutboxRelay {
  /** Looks for events now instead of at the next poll. */
  nudge(): void;
  /** Lets the batch in flight finish (published or rescheduled), then stops. */
  stop(): Promise<void>;
}

const hourMs = 3_600_000;

type RelaySettings = Required<OutboxRelayOptions>;

/**
 * Publishes outbox events at least once, oldest first, from any number of replicas: each batch
 * is claimed with `for update skip locked`, so replicas never work on the same event at once.
 * A failed event is retried later with back-off, never dropped. Commits through `orm` that
 * recorded events nudge the relay.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const settings: RelaySettings = {
    ...options,
    batchSize: options.batchSize ?? 50,
    intervalMs: options.intervalMs ?? 1000,
    batchDelayMs: options.batchDelayMs ?? 20,
    retryDelayMs: options.retryDelayMs ?? 1000,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
    retentionMs: options.retentionMs ?? 24 * hourMs,
    leaseMs: options.leaseMs ?? 60_000,
  };
  let isStopped = false;
  let isNudged = false;
  let wake = () => {};

  const nudge = () => {
    isNudged = true;
    wake();
  };
  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), settings.intervalMs);
      wake = () => {
        clearTimeout(timer);
        wake = () => {};
        resolve();
      };
    });

  async function run(): Promise<void> {
    let lastCleanup = 0;
    while (!isStopped) {
      isNudged = false;
      let isBatchFull = false;
      try {
        isBatchFull = (await relayBatch(settings)) === settings.batchSize;
        if (Date.now() - lastCleanup >= Math.min(settings.retentionMs, hourMs)) {
          await deletePublished(settings);
          lastCleanup = Date.now();
        }
      } catch (error) {
        settings.logger.error({ err: error }, 'outbox relay round failed; will retry');
      }
      if (isBatchFull || isStopped) continue;
      if (!isNudged) await pause();
      if (isNudged && !isStopped) await delay(settings.batchDelayMs);
    }
  }

  const unsubscribe = onCommitsOf(settings.orm, nudge);
  const running = run();
  return {
    nudge,
    async stop() {
      isStopped = true;
      unsubscribe();
      wake();
      await running;
    },
  };
}

/** The relays of each ORM. MikroORM cannot unregister a subscriber: one per ORM serves them all. */
const relaysOf = new WeakMap<MikroORM, Set<() => void>>();

/**
 * Tells the relays of `orm` that a commit recorded events outside the unit of work (SQL written by
 * hand with `outboxRow`); commits through the unit of work nudge them by themselves.
 */
export function nudgeOutboxRelays(orm: MikroORM): void {
  relaysOf.get(orm)?.forEach((nudge) => nudge());
}

/** Calls `nudge` after every commit through `orm` that recorded events, until unsubscribed. */
function onCommitsOf(orm: MikroORM, nudge: () => void): () => void {
  let nudges = relaysOf.get(orm);
  if (!nudges) {
    const all = new Set<() => void>();
    orm.em.getEventManager().registerSubscriber(nudgeAfterCommit(() => all.forEach((n) => n())));
    relaysOf.set(orm, all);
    nudges = all;
  }
  nudges.add(nudge);
  return () => void nudges.delete(nudge);
}

interface ClaimedRow {
  id: string;
  topic: string;
  data: unknown;
  traceparent: string | null;
  /** The ORM's pool leaves timestamps as text: milliseconds travel better. */
  created_ms: number;
  attempts: number;
}

/**
 * Due events, oldest first, leased to this round: moved out of reach (`next_attempt_at`) rather
 * than kept locked, so no transaction stays open while the batch is published. Rows another
 * round holds are skipped, never waited for. Events of one commit share `created_at`: their
 * place in the table keeps them in the order they were written.
 */
const claimSql = {
  name: 'outbox.claim',
  text: `
  with due as (
    select id, ctid as place from outbox_events
    where published_at is null and next_attempt_at <= now()
    order by created_at limit $1
    for update skip locked),
  claimed as (
    update outbox_events set next_attempt_at = now() + $2::int * interval '1 millisecond'
    from due where outbox_events.id = due.id
    returning outbox_events.id, topic, data, traceparent, created_at, attempts, due.place)
  select id, topic, data, traceparent, attempts,
    extract(epoch from created_at)::float8 * 1000 as created_ms
  from claimed order by created_at, place`,
};

/**
 * The outcome of a whole batch in one statement: published, or failed and due again later. An
 * event already published (by a round that claimed it after this one's lease ran out) stays so.
 */
const settleSql = {
  name: 'outbox.settle',
  text: `
  update outbox_events as event set
    published_at = outcome.published_at, attempts = outcome.attempts,
    last_error = coalesce(outcome.last_error, event.last_error),
    next_attempt_at = coalesce(outcome.next_attempt_at, event.next_attempt_at)
  from unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::text[], $5::timestamptz[])
    as outcome (id, published_at, attempts, last_error, next_attempt_at)
  where event.id = outcome.id and event.published_at is null`,
};

/**
 * Claims a batch, publishes it and writes the outcome of each event; returns the batch size. Two
 * prepared statements a round, in plain SQL on the ORM's pool (ADR 0014): the unit of work spent a
 * transaction of four round trips, hydration and change sets on it. A relay that dies mid-batch
 * leaves its events to be claimed again once the lease runs out (at least once, as before).
 */
async function relayBatch(settings: RelaySettings): Promise<number> {
  const claimed = await runPrepared<ClaimedRow>(settings.orm.em, claimSql, [
    settings.batchSize,
    settings.leaseMs,
  ]);
  if (claimed.length === 0) return 0;
  const events: RelayedEvent[] = claimed.map((row) => ({
    id: row.id,
    topic: row.topic,
    data: row.data,
    traceparent: row.traceparent,
    createdAt: new Date(row.created_ms),
    attempts: row.attempts,
  }));
  const failed = await publishAll(settings, events);
  const now = new Date();
  const outcomes = events.map((event) =>
    failed.has(event.id) ? retryOf(settings, event, failed.get(event.id)) : published(event, now),
  );
  await runPrepared(settings.orm.em, settleSql, [
    outcomes.map((outcome) => outcome.id),
    outcomes.map((outcome) => outcome.publishedAt),
    outcomes.map((outcome) => outcome.attempts),
    outcomes.map((outcome) => outcome.lastError),
    outcomes.map((outcome) => outcome.nextAttemptAt),
  ]);
  return events.length;
}

/** The events the broker did not take, by id, with why. */
async function publishAll(
  settings: RelaySettings,
  events: RelayedEvent[],
): Promise<Map<string, unknown>> {
  const { publish } = settings;
  if (typeof publish !== 'function') return publish.publishBatch(events);
  const failed = new Map<string, unknown>();
  for (const event of events) {
    try {
      await publish(event);
    } catch (error) {
      failed.set(event.id, error);
    }
  }
  return failed;
}

interface Outcome {
  id: string;
  publishedAt: Date | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
}

// Due at once again (not at the claim's lease) should someone reset `published_at` to resend it.
const published = (event: RelayedEvent, at: Date): Outcome => ({
  id: event.id,
  publishedAt: at,
  attempts: event.attempts,
  lastError: null,
  nextAttemptAt: at,
});

function retryOf(settings: RelaySettings, event: RelayedEvent, error: unknown): Outcome {
  const attempts = event.attempts + 1;
  const delay = settings.retryDelayMs * 2 ** (attempts - 1);
  settings.logger.warn(
    { err: error, eventId: event.id, topic: event.topic, attempts },
    'publishing an outbox event failed; will retry',
  );
  return {
    id: event.id,
    publishedAt: null,
    attempts,
    lastError: error instanceof Error ? error.message : String(error),
    nextAttemptAt: new Date(Date.now() + Math.min(delay, settings.maxRetryDelayMs)),
  };
}

const deletePublished = (settings: RelaySettings) =>
  settings.orm.em.fork().nativeDelete(OutboxEvent, {
    publishedAt: { $lt: new Date(Date.now() - settings.retentionMs) },
  });

/** Nudges once a transaction that inserted outbox events has committed (not at a savepoint). */
function nudgeAfterCommit(nudge: () => void): EventSubscriber<OutboxEvent> {
  const withEvents = new WeakSet<EntityManager>();
  return {
    getSubscribedEntities: () => [OutboxEvent],
    afterCreate: ({ em }) => void withEvents.add(em),
    afterTransactionCommit: ({ em, transaction }) => {
      if (!transaction?.savepointName && withEvents.delete(em)) nudge();
    },
  };
}
