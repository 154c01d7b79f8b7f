import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import {
  currentUser,
  etagOf,
  ormRequestContext,
  requireIfMatch,
  requireUser,
  type MikroORM,
  type TokenVerifier,
} from '@sidecart/chassis';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProductsClient } from '../clients/products.client.ts';
import { replayedError } from './answers.ts';
import type { StoredAnswer } from './idempotency-record.entity.ts';
import { toOrderDto } from './order.dto.ts';
import {
  changeStatusBody,
  listOrdersQuery,
  parseIdempotencyKey,
  parseOrderId,
  placeOrderBody,
} from './orders.schemas.ts';
import { changeOrderStatus, findVisibleOrder, listOrders, type Actor } from './orders.use-cases.ts';
import { placeOrder, type PlacementDeps } from './placement.use-cases.ts';

export interface OrdersRoutesDeps {
  orm: MikroORM;
  verify: TokenVerifier;
  products: ProductsClient;
  settings: Pick<PlacementDeps, 'sweepAfterMs' | 'waitMs' | 'nudgeRelay' | 'settleUntouched'>;
  /** Per-user limit on placing orders (429 past it). */
  placementLimit: Middleware;
}

export const actorOf = (ctx: Context): Actor => {
  const user = currentUser(ctx.state);
  return { id: user.id, isAdmin: user.roles.includes('admin') };
};

/** Writes a placement's answer; a stored problem goes through the translator like a fresh one. */
export function sendAnswer(ctx: Context, answer: StoredAnswer): void {
  const error = replayedError(answer);
  if (error) throw error;
  ctx.status = answer.status;
  ctx.set(answer.headers);
  ctx.body = answer.body;
}

export function ordersRoutes(deps: OrdersRoutesDeps): Router {
  const { orm, verify, products, settings, placementLimit } = deps;
  const em = () => orm.em as EntityManager;
  const router = new Router({ prefix: '/api/orders' });
  // Placing an order runs its own SQL and forks where it needs the unit of work: no request
  // context (a fork per request) on the hot path; the other routes read through their own.
  const withOrm = ormRequestContext(orm);
  router.use(requireUser(verify));

  router.post('/', placementLimit, async (ctx) => {
    const idempotencyKey = parseIdempotencyKey(ctx.get('idempotency-key'));
    const { items } = placeOrderBody.parse(ctx.request.body);
    const deps = { em: em(), products, ...settings, traceparent: ctx.state.traceparent };
    const request = { userId: actorOf(ctx).id, items, idempotencyKey, route: 'orders' };
    sendAnswer(ctx, await placeOrder(deps, { ...request, hashed: items }));
  });

  router.get('/', withOrm, async (ctx) => {
    const page = await listOrders(em(), actorOf(ctx), listOrdersQuery.parse(ctx.query));
    ctx.body = { items: page.items.map(toOrderDto), nextCursor: page.nextCursor };
  });

  router.get('/:id', withOrm, async (ctx) => {
    const order = await findVisibleOrder(em(), parseOrderId(ctx.params.id), actorOf(ctx));
    ctx.set('etag', etagOf(order.version));
    ctx.body = toOrderDto(order);
  });

  router.patch('/:id', withOrm, async (ctx) => {
    const expectedVersion = requireIfMatch(ctx);
    const { status } = changeStatusBody.parse(ctx.request.body);
    const id = parseOrderId(ctx.params.id);
    const change = { id, actor: actorOf(ctx), next: status, expectedVersion };
    const order = await changeOrderStatus(em(), { ...change, traceparent: ctx.state.traceparent });
    ctx.set('etag', etagOf(order.version));
    ctx.body = toOrderDto(order);
  });

  // Cancels; If-Match is optional here: a cancel is safe to send without having read the order.
  router.delete('/:id', withOrm, async (ctx) => {
    const expectedVersion = ctx.get('if-match') ? requireIfMatch(ctx) : undefined;
    const id = parseOrderId(ctx.params.id);
    const change = { id, actor: actorOf(ctx), next: 'cancelled' as const, expectedVersion };
    const order = await changeOrderStatus(em(), { ...change, traceparent: ctx.state.traceparent });
    ctx.set('etag', etagOf(order.version));
    ctx.body = toOrderDto(order);
  });

  return router;
}
