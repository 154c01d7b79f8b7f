import { randomUUID } from 'node:crypto';
import { defineEntity, p, type EntityManager } from '@mikro-orm/core';
import type { z } from 'zod';

export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'outbox_events',
  // The relay's query: unpublished events, oldest first.
  indexes: [
    {
      name: 'outbox_events_unpublished_index',
      properties: ['createdAt'],
      where: { publishedAt: null },
    },
  ],
  properties: {
    /** Also the CloudEvent id: stable across re-publishes, so consumers' inboxes drop duplicates. */
    id: p.uuid().primary(),
    topic: p.text(),
    data: p.json<unknown>(),
    traceparent: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    publishedAt: p.datetime().nullable(),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    nextAttemptAt: p.datetime().onCreate(() => new Date()),
  },
});

/** An event waiting in (or already sent from) the transactional outbox. */
export class OutboxEvent extends OutboxEventSchema.class {}
OutboxEventSchema.setClass(OutboxEvent);

export interface RecordedEvent<S extends z.ZodType> {
  topic: string;
  data: z.input<S>;
  /** Validates `data` before it is stored: a malformed event fails the change, not the consumer. */
  schema?: S;
  /** W3C trace context of the change, passed on to the consumers. */
  traceparent?: string;
}

/** An outbox row as a service writes it: what `recordEvent` adds, for SQL written by hand. */
export interface OutboxRow {
  id: string;
  topic: string;
  data: unknown;
  traceparent: string | null;
}

/**
 * The row of an event, validated: for a service that writes the outbox in its own SQL statement
 * (then it calls `nudgeOutboxRelays` after the commit, which the unit of work does by itself).
 */
export function outboxRow<S extends z.ZodType = z.ZodType<unknown>>(
  event: RecordedEvent<S>,
): OutboxRow {
  return {
    id: randomUUID(),
    topic: event.topic,
    // The schema's output: what the contract describes, unknown keys stripped.
    data: event.schema ? event.schema.parse(event.data) : event.data,
    traceparent: event.traceparent ?? null,
  };
}

/**
 * Adds an event to the caller's unit of work: it is written by the caller's next flush, in the
 * same transaction as the change it describes, so both commit or roll back together.
 */
export function recordEvent<S extends z.ZodType = z.ZodType<unknown>>(
  em: EntityManager,
  event: RecordedEvent<S>,
): OutboxEvent {
  return em.create(OutboxEvent, outboxRow(event));
}
