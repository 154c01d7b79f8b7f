import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ReserveResponse } from '@sidecart/contracts';
import type { ProductsClient } from '../clients/products.client.ts';
import { answerOf } from './answers.ts';
import { IdempotencyRecord, type StoredAnswer } from './idempotency-record.entity.ts';
import { Order } from './order.entity.ts';
import {
  recordOrderCancelled,
  recordOrderConfirmed,
  recordOrderFailed,
} from './outgoing-events.ts';

export interface SettleDeps {
  em: EntityManager;
  products: ProductsClient;
  traceparent?: string;
}

/**
 * Asks products to reserve a pending order's stock and records the outcome. Safe to run twice at
 * once (a request and the sweeper): reserve is idempotent by order id, and only the first to lock
 * the still-pending row settles it; the other gets its answer.
 */
export async function settleOrder(deps: SettleDeps, orderId: string): Promise<StoredAnswer> {
  const order = await deps.em.fork().findOneOrFail(Order, { id: orderId });
  if (order.status !== 'pending') return answerOf(order);
  const lines = order.lines.map(({ productId, quantity }) => ({ productId, quantity }));
  // A failure leaves the order pending: after a timeout the reservation may still happen, and
  // only another reserve (the sweeper's) can tell.
  const outcome = await deps.products.reserve({ orderId, lines });
  return recordOutcome(deps, orderId, outcome);
}

/** Applies products' answer to the order, if it is still pending, with its events and answer. */
export function recordOutcome(
  deps: SettleDeps,
  orderId: string,
  outcome: ReserveResponse,
): Promise<StoredAnswer> {
  return deps.em.fork().transactional(async (tx) => {
    const order = await tx.findOneOrFail(
      Order,
      { id: orderId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (order.status !== 'pending') return answerOf(order);
    return applyOutcome(tx, order, outcome, deps.traceparent);
  });
}

async function applyOutcome(
  tx: EntityManager,
  order: Order,
  outcome: ReserveResponse,
  traceparent?: string,
): Promise<StoredAnswer> {
  if (outcome.status === 'rejected') order.reject(outcome.shortLines);
  else if (!order.hasOneCurrency(outcome.lines)) order.fail('mixed-currencies');
  else order.confirm(outcome.lines);
  // Events carry the version after the change: flush first, then record.
  await tx.flush();
  if (order.status === 'confirmed') recordOrderConfirmed(tx, order, traceparent);
  if (order.status === 'failed') recordOrderFailed(tx, order, traceparent);
  const answer = answerOf(order);
  await tx.nativeUpdate(IdempotencyRecord, { orderId: order.id }, { answer });
  if (order.status === 'confirmed' && order.cancelOnSettle) {
    // Its customer was deleted while it was pending: the stock goes back at once.
    order.transitionTo('cancelled', order.cancelOnSettle);
    await tx.flush();
    recordOrderCancelled(tx, order, traceparent);
  }
  return answer;
}

/**
 * Gives up on a pending order: failed, `order-failed` for products to release whatever it may
 * hold, and the idempotency record goes, so a retry with the same key places the order anew.
 */
export async function failPendingOrder(
  deps: Pick<SettleDeps, 'em' | 'traceparent'>,
  orderId: string,
  reason: string,
): Promise<void> {
  await deps.em.fork().transactional(async (tx) => {
    const order = await tx.findOne(
      Order,
      { id: orderId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (order?.status !== 'pending') return;
    order.fail(reason);
    await tx.flush();
    recordOrderFailed(tx, order, deps.traceparent);
    await tx.nativeDelete(IdempotencyRecord, { orderId });
  });
}
