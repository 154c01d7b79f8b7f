import type { z } from 'zod';
import { userDeleted, userRegistered } from './auth.events.ts';
import { orderCancelled, orderConfirmed, orderFailed } from './orders.events.ts';
import { productArchived, productCreated, productUpdated } from './products.events.ts';

/**
 * Every event, by topic (docs/architecture.md, events). The schemas are `z.object`, which strips unknown keys
 * rather than rejecting them: a consumer keeps working when a producer adds a field, and a
 * producer that validates with the same schema before recording the event publishes exactly the
 * contract (a field added without updating the contract is dropped, not leaked). Removing or
 * renaming a field, or adding an enum value, is a breaking change: deploy consumers first.
 */
export const events = {
  'product-created': productCreated,
  'product-updated': productUpdated,
  'product-archived': productArchived,
  'order-confirmed': orderConfirmed,
  'order-cancelled': orderCancelled,
  'order-failed': orderFailed,
  'user-registered': userRegistered,
  'user-deleted': userDeleted,
} as const;

export type EventName = keyof typeof events;

/** The data of event `N` after parsing. */
export type EventData<N extends EventName> = z.output<(typeof events)[N]>;

export const eventNames = Object.keys(events) as EventName[];

export const isEventName = (topic: string): topic is EventName => Object.hasOwn(events, topic);

export type ParsedEvent =
  | { [N in EventName]: { ok: true; topic: N; data: EventData<N> } }[EventName]
  | { ok: false; topic: string; error: 'unknown-topic' }
  | { ok: false; topic: string; error: 'invalid-data'; issues: z.core.$ZodIssue[] };

/** Validates `data` against the topic's schema; never throws. */
export function parseEvent(topic: string, data: unknown): ParsedEvent {
  if (!isEventName(topic)) return { ok: false, topic, error: 'unknown-topic' };
  const result = events[topic].safeParse(data);
  if (!result.success) {
    return { ok: false, topic, error: 'invalid-data', issues: result.error.issues };
  }
  return { ok: true, topic, data: result.data } as ParsedEvent;
}
