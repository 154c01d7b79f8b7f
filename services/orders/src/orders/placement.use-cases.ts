import { setTimeout as delay } from 'node:timers/promises';
import { serviceUnavailable } from '@sidecart/chassis';
import { isRefusedByBreaker } from '../clients/products.client.ts';
import type { IdempotencyRecord, StoredAnswer } from './idempotency-record.entity.ts';
import { findRecord, requestHash, requireSameRequest } from './idempotency.ts';
import { Order } from './order.entity.ts';
import { insertPendingOrder } from './placement.queries.ts';
import { failPendingOrder, settleNewOrder, settleOrder, type NewOrderDeps } from './settlement.ts';

/** What settling a new order needs (settlement.ts), and how long placing waits. */
export interface PlacementDeps extends NewOrderDeps {
  /** When the sweeper takes over an order nobody settled. */
  sweepAfterMs: number;
  /** How long a repeat waits for the first request's answer (its products deadline and a bit). */
  waitMs: number;
}

export interface PlaceOrderRequest {
  userId: string;
  items: { productId: string; quantity: number }[];
  idempotencyKey?: string;
  /** `orders` or `checkout`: one key cannot serve both. */
  route: string;
  /** What the key's request hash covers (checkout: nothing but the route). */
  hashed: unknown;
}

/**
 * Stores the order `pending`, then reserves its stock through products: 201 confirmed, 409
 * rejected, or a 503 while products is unreachable (the sweeper settles the order later). With an
 * Idempotency-Key, a repeat gets the first request's answer and never a second order.
 */
export async function placeOrder(
  deps: PlacementDeps,
  request: PlaceOrderRequest,
): Promise<StoredAnswer> {
  const key = request.idempotencyKey;
  const hash = requestHash(request.route, request.hashed);
  // Only while products is refused does a repeat need looking up first: it still gets its answer.
  if (deps.products.isRefusing() && key) {
    const existing = await findRecord(deps.em, request.userId, key);
    if (existing) return answerRepeat(deps, existing, hash);
  }
  deps.products.refuseWhileOpen();
  const lines = request.items.map(({ productId, quantity }) => ({ productId, quantity }));
  const order = Order.pending(request.userId, lines, new Date(Date.now() + deps.sweepAfterMs));
  if (!(await insertPendingOrder(deps.em, order, key ? { key, hash } : undefined))) {
    const first = await findRecord(deps.em, request.userId, key!);
    // Gone already: its order failed for good, which frees the key for a new order.
    return first ? answerRepeat(deps, first, hash) : placeOrder(deps, request);
  }
  try {
    return await settleNewOrder(deps, order);
  } catch (error) {
    // The breaker opened since the check and nothing was sent: no reservation can exist.
    if (isRefusedByBreaker(error)) await failPendingOrder(deps, order.id, 'products-unavailable');
    throw error;
  }
}

/** A repeat of a keyed request: the stored answer, once the first request has settled its order. */
async function answerRepeat(
  deps: PlacementDeps,
  first: IdempotencyRecord,
  hash: string,
): Promise<StoredAnswer> {
  requireSameRequest(first, hash);
  const deadline = Date.now() + deps.waitMs;
  for (let record: IdempotencyRecord | null = first; record;) {
    if (record.answer) return record.answer;
    const order = await deps.em.fork().findOneOrFail(Order, { id: record.orderId });
    // Older than the first request's deadline: it is gone (a 503, a crash), so settle it here.
    if (order.status === 'pending' && Date.now() - order.createdAt.getTime() > deps.waitMs) {
      return settleOrder(deps, order.id);
    }
    if (Date.now() > deadline) break;
    await delay(20);
    record = await findRecord(deps.em, record.userId, record.key);
  }
  throw serviceUnavailable(
    'request-in-progress',
    'The first request with this Idempotency-Key has not completed: retry shortly',
  );
}
