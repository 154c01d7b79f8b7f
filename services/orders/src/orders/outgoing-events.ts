import type { EntityManager } from '@mikro-orm/core';
import { recordEvent, type RecordedEvent } from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import type { z } from 'zod';
import type { Order } from './order.entity.ts';

// Each is recorded in the transaction that made the change (the outbox), never published directly.

type OrderEvent = RecordedEvent<z.ZodType>;

/** Keeps each event's data checked against its contract's schema at compile time. */
const orderEvent = <S extends z.ZodType>(event: RecordedEvent<S>): OrderEvent => event;

const linesOf = (order: Order) =>
  order.lines.map(({ productId, quantity }) => ({ productId, quantity }));

export const orderConfirmed = (order: Order, traceparent?: string) =>
  orderEvent({
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

/** Products gives the reserved stock back when it receives this (once per order). */
export const orderCancelled = (order: Order, traceparent?: string) =>
  orderEvent({
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

/** Products releases whatever it may have reserved for the order (maybe nothing). */
export const orderFailed = (order: Order, traceparent?: string) =>
  orderEvent({
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

/** What settling an order tells the others: confirmed or failed; a rejection held nothing. */
export function settledEvent(order: Order, traceparent?: string): OrderEvent | undefined {
  if (order.status === 'confirmed') return orderConfirmed(order, traceparent);
  if (order.status === 'failed') return orderFailed(order, traceparent);
  return undefined;
}

export const recordOrderCancelled = (em: EntityManager, order: Order, traceparent?: string) =>
  recordEvent(em, orderCancelled(order, traceparent));

export const recordOrderFailed = (em: EntityManager, order: Order, traceparent?: string) =>
  recordEvent(em, orderFailed(order, traceparent));
