import { defineEntity, p } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

export const InboxEventSchema = defineEntity({
  name: 'InboxEvent',
  tableName: 'inbox_events',
  properties: {
    /** Who handled it: one event may be handled by several consumers of one service. */
    consumer: p.text().primary(),
    eventId: p.text().primary(),
    handledAt: p.datetime().onCreate(() => new Date()),
  },
});

/** A record that `consumer` has applied the event `eventId` (the CloudEvent id). */
export class InboxEvent extends InboxEventSchema.class {}
InboxEventSchema.setClass(InboxEvent);

export type HandleResult = 'applied' | 'duplicate';

/**
 * Applies an event at most once per consumer (docs/dapr-behaviour.md §4.6: delivery is at-least-once).
 * The inbox row and apply's changes share one transaction: if apply throws, both roll back and a
 * redelivery applies it. A concurrent redelivery waits on the row's primary key, then sees it.
 */
export function handleOnce(
  em: EntityManager,
  consumer: string,
  eventId: string,
  apply: (em: EntityManager) => Promise<void>,
): Promise<HandleResult> {
  return em.transactional(async (tx) => {
    const { affectedRows } = await tx
      .createQueryBuilder(InboxEvent)
      .insert({ consumer, eventId, handledAt: new Date() })
      .onConflict(['consumer', 'eventId'])
      .ignore()
      .execute('run');
    if (affectedRows === 0) return 'duplicate';
    await apply(tx);
    return 'applied';
  });
}
