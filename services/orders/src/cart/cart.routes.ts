import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  AppError,
  badRequest,
  currentUser,
  preconditionRequired,
  requireUser,
  type MikroORM,
  type TokenVerifier,
} from '@sidecart/chassis';
import type { ProductsClient } from '../clients/products.client.ts';
import { parseIdempotencyKey } from '../orders/orders.schemas.ts';
import { sendAnswer } from '../orders/orders.routes.ts';
import type { PlacementDeps } from '../orders/placement.use-cases.ts';
import { cartEtag, parseCartPrecondition, putCartBody } from './cart.schemas.ts';
import type { CartStore } from './cart.store.ts';
import { checkOut, viewCart } from './cart.use-cases.ts';

export interface CartRoutesDeps {
  orm: MikroORM;
  verify: TokenVerifier;
  products: ProductsClient;
  carts: CartStore;
  settings: Pick<PlacementDeps, 'sweepAfterMs' | 'waitMs' | 'nudgeRelay' | 'settleUntouched'>;
  /** Per-user limit on placing orders (429 past it). */
  placementLimit: Middleware;
}

export function cartRoutes(deps: CartRoutesDeps): Router {
  const { orm, verify, products, carts, settings, placementLimit } = deps;
  const router = new Router({ prefix: '/api/cart' });
  router.use(requireUser(verify));
  const userOf = (ctx: Context) => currentUser(ctx.state).id;

  // A customer without a cart has an empty one, without an ETag: the first PUT creates it.
  router.get('/', async (ctx) => {
    const cart = await carts.read(userOf(ctx));
    if (cart) ctx.set('etag', cartEtag(cart.etag));
    ctx.body = await viewCart(products, cart);
  });

  router.put('/', async (ctx) => {
    const etag = await requireWritePrecondition(ctx, carts);
    const { items } = putCartBody.parse(ctx.request.body);
    const written = await carts.write(userOf(ctx), items, etag);
    if (written.etag) ctx.set('etag', cartEtag(written.etag));
    ctx.body = { items };
  });

  router.delete('/', async (ctx) => {
    const etag = parseCartPrecondition(ctx.get('if-match'));
    await carts.drop(userOf(ctx), etag === '*' ? undefined : etag);
    ctx.status = 204;
  });

  router.post('/checkout', placementLimit, async (ctx) => {
    const key = parseIdempotencyKey(ctx.get('idempotency-key'));
    const deps = { em: orm.em as EntityManager, products, carts, ...settings };
    sendAnswer(
      ctx,
      await checkOut({ ...deps, traceparent: ctx.state.traceparent }, userOf(ctx), key),
    );
  });

  return router;
}

/**
 * PUT needs `If-Match: <etag>` (or `*`: any existing cart) to change a cart, or
 * `If-None-Match: *` to create the first one; without either a blind write could undo a change
 * made on another device (428).
 */
async function requireWritePrecondition(ctx: Context, carts: CartStore) {
  const ifMatch = ctx.get('if-match').trim();
  const ifNoneMatch = ctx.get('if-none-match').trim();
  if (ifMatch && ifNoneMatch) {
    throw badRequest('invalid-precondition', 'Send If-Match or If-None-Match, not both');
  }
  if (ifNoneMatch) {
    if (ifNoneMatch !== '*') {
      throw badRequest('invalid-precondition', 'If-None-Match must be * (create the first cart)');
    }
    return undefined;
  }
  if (!ifMatch) {
    throw preconditionRequired(
      'Send If-Match with the cart ETag, or If-None-Match: * to create the first cart',
    );
  }
  const etag = parseCartPrecondition(ifMatch);
  if (etag !== '*') return etag;
  const current = await carts.read(currentUser(ctx.state).id);
  if (!current) throw new AppError(412, 'cart-changed', 'There is no cart to match *');
  return current.etag;
}
