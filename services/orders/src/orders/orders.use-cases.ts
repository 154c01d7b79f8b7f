import type { EntityManager } from '@mikro-orm/postgresql';
import { forbidden, notFound, preconditionFailed } from '@sidecart/chassis';
import type { z } from 'zod';
import { Order, type OrderStatus } from './order.entity.ts';
import type { listOrdersQuery } from './orders.schemas.ts';
import { recordOrderCancelled } from './outgoing-events.ts';

export interface Actor {
  id: string;
  isAdmin: boolean;
}

/** The order if `actor` may see it (its owner, an admin); anyone else learns nothing: 404. */
export async function findVisibleOrder(em: EntityManager, id: string, actor: Actor) {
  const order = await em.findOne(Order, { id });
  if (!order || !(actor.isAdmin || order.isOwnedBy(actor.id))) throw notFound('order', id);
  return order;
}

/** Newest first; a customer sees their own orders, an admin everyone's (filterable). */
export async function listOrders(
  em: EntityManager,
  actor: Actor,
  query: z.output<typeof listOrdersQuery>,
) {
  if (!actor.isAdmin && query.userId && query.userId !== actor.id) {
    throw forbidden('Only admins may list the orders of other users');
  }
  const userId = actor.isAdmin ? query.userId : actor.id;
  const items = await em.find(
    Order,
    {
      ...(userId ? { userId } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(query.cursor ? { id: { $lt: query.cursor } } : {}),
    },
    { orderBy: { id: 'desc' }, limit: query.limit + 1 },
  );
  const page = items.slice(0, query.limit);
  return { items: page, nextCursor: items.length > query.limit ? page.at(-1)!.id : null };
}

export interface StatusChange {
  id: string;
  actor: Actor;
  next: OrderStatus;
  /** The version the client saw (If-Match); undefined for `*` or none. */
  expectedVersion: number | undefined;
  traceparent?: string;
}

/** Moves an order through its state machine; cancelling records `order-cancelled`. */
export async function changeOrderStatus(em: EntityManager, change: StatusChange) {
  const order = await findVisibleOrder(em, change.id, change.actor);
  if (!order.canBeChangedBy(change.actor, change.next)) {
    throw forbidden('Only an admin may move an order to this status');
  }
  if (change.expectedVersion !== undefined && change.expectedVersion !== order.version) {
    throw preconditionFailed('The order was changed since you read it', {
      extensions: { currentVersion: order.version },
    });
  }
  const byOwner = order.isOwnedBy(change.actor.id);
  order.transitionTo(change.next, byOwner ? 'customer-request' : 'admin');
  return em.transactional(async (tx) => {
    // The update carries `where version = <read>`: a concurrent change fails it (412).
    await tx.flush();
    if (order.status === 'cancelled') recordOrderCancelled(tx, order, change.traceparent);
    return order;
  });
}

/**
 * A deleted customer's open orders: confirmed ones are cancelled (their stock goes back);
 * pending ones are cancelled as soon as they settle. Shipped orders are on their way already.
 */
export async function closeOrdersOf(em: EntityManager, userId: string, traceparent?: string) {
  const open = await em.find(Order, { userId, status: { $in: ['pending', 'confirmed'] } });
  for (const order of open) {
    if (order.status === 'pending') order.cancelOnSettle = 'user-deleted';
    else order.transitionTo('cancelled', 'user-deleted');
  }
  await em.flush();
  for (const order of open) {
    if (order.status === 'cancelled') recordOrderCancelled(em, order, traceparent);
  }
  await em.flush();
}
