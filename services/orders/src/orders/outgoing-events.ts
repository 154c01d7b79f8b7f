import type { EntityManager } from '@mikro-orm/core';
import { recordEvent } from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import type { Order } from './order.entity.ts';

// Each is recorded in the transaction that made the change (the outbox), never published directly.

const linesOf = (order: Order) =>
  order.lines.map(({ productId, quantity }) => ({ productId, quantity }));

export function recordOrderConfirmed(em: EntityManager, order: Order, traceparent?: string) {
  recordEvent(em, {
    topic: 'order-confirmed',
    schema: events['order-confirmed'],
    data: {
      orderId: order.id,
      userId: order.userId,
      lines: order.lines.map((line) => ({
        productId: line.productId,
        quantity: line.quantity,
        unitPrice: { cents: line.unitPriceCents!, currency: line.currency! },
      })),
      total: { cents: order.totalCents!, currency: order.currency! },
      version: order.version,
      occurredAt: new Date().toISOString(),
    },
    traceparent,
  });
}

/** Products gives the reserved stock back when it receives this (once per order). */
export function recordOrderCancelled(em: EntityManager, order: Order, traceparent?: string) {
  recordEvent(em, {
    topic: 'order-cancelled',
    schema: events['order-cancelled'],
    data: {
      orderId: order.id,
      userId: order.userId,
      lines: linesOf(order),
      reason: order.reason ?? 'customer-request',
      version: order.version,
      occurredAt: new Date().toISOString(),
    },
    traceparent,
  });
}

/** Products releases whatever it may have reserved for the order (maybe nothing). */
export function recordOrderFailed(em: EntityManager, order: Order, traceparent?: string) {
  recordEvent(em, {
    topic: 'order-failed',
    schema: events['order-failed'],
    data: {
      orderId: order.id,
      userId: order.userId,
      lines: linesOf(order),
      reason: order.reason ?? 'reservation-failed',
      version: order.version,
      occurredAt: new Date().toISOString(),
    },
    traceparent,
  });
}
