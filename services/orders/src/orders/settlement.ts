import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { outboxRow, recordEvent } from '@sidecart/chassis';
import type { ReserveResponse } from '@sidecart/contracts';
import type { ProductsClient } from '../clients/products.client.ts';
import { answerOf } from './answers.ts';
import { IdempotencyRecord, type StoredAnswer } from './idempotency-record.entity.ts';
import { Order } from './order.entity.ts';
import { recordOrderCancelled, recordOrderFailed, settledEvent } from './outgoing-events.ts';
import type { Settlement } from './placement.queries.ts';

export interface SettleDeps {
  em: EntityManager;
  products: ProductsClient;
  /** Tells the outbox relay about an event written outside the unit of work. */
  nudgeRelay?: () => void;
  traceparent?: string;
}

export interface NewOrderDeps extends SettleDeps {
  /** Writes an outcome if the order is untouched (`untouchedSettlements`); false when not. */
  settleUntouched: (settlement: Settlement) => Promise<boolean>;
}

/**
 * Reserves the stock of an order this request has just created and records the outcome, without
 * reading the order back: in one statement while nobody else has touched it (the usual case),
 * else — the sweeper settled it, user-deleted flagged it — under its row lock like any settler.
 */
export async function settleNewOrder(deps: NewOrderDeps, order: Order): Promise<StoredAnswer> {
  const lines = order.lines.map(({ productId, quantity }) => ({ productId, quantity }));
  const outcome = await deps.products.reserve({ orderId: order.id, lines });
  const fromVersion = order.version;
  decide(order, outcome);
  order.version = fromVersion + 1;
  order.updatedAt = new Date();
  const event = settledEvent(order, deps.traceparent);
  const answer = answerOf(order);
  const row = event && outboxRow(event);
  // A batch that fails as a whole (a deadlock with a user-deleted flagging the same user's
  // orders) leaves each of its orders to the locking path, which reports any lasting failure.
  const written = await deps
    .settleUntouched({ order, fromVersion, answer, event: row })
    .catch(() => false);
  if (!written) return recordOutcome(deps, order.id, outcome);
  if (row) deps.nudgeRelay?.();
  return answer;
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
  decide(order, outcome);
  // Events carry the version after the change: flush first, then record.
  await tx.flush();
  const event = settledEvent(order, traceparent);
  if (event) recordEvent(tx, event);
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

/** Confirmed with the price snapshot, rejected naming the short lines, or failed. */
function decide(order: Order, outcome: ReserveResponse): void {
  if (outcome.status === 'rejected') order.reject(outcome.shortLines);
  else if (!order.hasOneCurrency(outcome.lines)) order.fail('mixed-currencies');
  else order.confirm(outcome.lines);
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
