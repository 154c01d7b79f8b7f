import { setTimeout as delay } from 'node:timers/promises';
import { LockMode, type EntityManager, type EventSubscriber } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Dapr } from '../dapr/client.ts';
import type { Logger } from '../logger.ts';
import { OutboxEvent } from './outbox.ts';

/** Sends one event (its `id` as the CloudEvent id); throws when the broker did not take it. */
export type PublishEvent = (event: OutboxEvent) => Promise<void>;

/** Sends a batch at once; resolves with the events the broker did not take, by id, with why. */
export interface BatchPublisher {
  publishBatch(events: OutboxEvent[]): Promise<Map<string, unknown>>;
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
   * One event at a time, or a whole batch at once. Must give up in bounded time: the batch keeps
   * its rows locked while it publishes.
   */
  publish: PublishEvent | BatchPublisher;
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

/** Claims a batch, publishes it and commits the outcome of each event; returns the batch size. */
function relayBatch(settings: RelaySettings): Promise<number> {
  return settings.orm.em.fork().transactional(async (em) => {
    const events = await em.find(
      OutboxEvent,
      { publishedAt: null, nextAttemptAt: { $lte: new Date() } },
      {
        orderBy: { createdAt: 'asc' },
        limit: settings.batchSize,
        lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
      },
    );
    const { publish } = settings;
    if (typeof publish === 'function') {
      for (const event of events) await publishOne(settings, publish, event);
    } else if (events.length > 0) {
      const failed = await publish.publishBatch(events);
      const now = new Date();
      for (const event of events) {
        if (failed.has(event.id)) scheduleRetry(settings, event, failed.get(event.id));
        else event.publishedAt = now;
      }
    }
    return events.length;
  });
}

async function publishOne(
  settings: RelaySettings,
  publish: PublishEvent,
  event: OutboxEvent,
): Promise<void> {
  try {
    await publish(event);
    event.publishedAt = new Date();
  } catch (error) {
    scheduleRetry(settings, event, error);
  }
}

function scheduleRetry(settings: RelaySettings, event: OutboxEvent, error: unknown): void {
  event.attempts += 1;
  event.lastError = error instanceof Error ? error.message : String(error);
  const delay = settings.retryDelayMs * 2 ** (event.attempts - 1);
  event.nextAttemptAt = new Date(Date.now() + Math.min(delay, settings.maxRetryDelayMs));
  settings.logger.warn(
    { err: error, eventId: event.id, topic: event.topic, attempts: event.attempts },
    'publishing an outbox event failed; will retry',
  );
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
