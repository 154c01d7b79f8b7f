import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ormRequestContext, type MikroORM } from '@sidecart/chassis';
import {
  lookupRequest,
  reserveBatchRequest,
  reserveRequest,
  type ReserveRequest,
} from '@sidecart/contracts';
import { z } from 'zod';
import { lookupProducts } from '../products/products.queries.ts';
import type { ProductCache } from '../products/product-cache.ts';
import { releaseStock, reserveStock } from '../reservations/reservations.use-cases.ts';
import { requireInternalCaller } from './internal-caller.ts';

export interface InternalRoutesDeps {
  orm: MikroORM;
  cache: ProductCache;
  appApiToken: string | undefined;
  callerAppId: string;
}

/**
 * What orders calls through Dapr invocation (@sidecart/contracts products.internal.ts). Expected
 * outcomes, a rejected reservation included, are 200: Dapr's circuit breakers count 4xx answers
 * as failures. Invalid requests are 400.
 */
export function internalRoutes({
  orm,
  cache,
  appApiToken,
  callerAppId,
}: InternalRoutesDeps): Router {
  const em = () => orm.em as EntityManager;
  const router = new Router({ prefix: '/internal' });
  router.use(requireInternalCaller(appApiToken, callerAppId));
  const withOrm = ormRequestContext(orm);
  /** One statement on the ORM's pool (no request context to build); a taken unit is a change. */
  const reserve = async (request: ReserveRequest) => {
    const answer = await reserveStock(em(), request);
    if (answer.status === 'reserved') answer.lines.forEach((line) => cache.changed(line.productId));
    return answer;
  };

  router.post('/reservations', async (ctx) => {
    ctx.body = await reserve(reserveRequest.parse(ctx.request.body));
  });

  // Orders sends the reservations that queued while its earlier calls were out as one call:
  // each is still its own statement, decided as above, so a batch changes no outcome.
  router.post('/reservations/batch', async (ctx) => {
    const { reservations } = reserveBatchRequest.parse(ctx.request.body);
    ctx.body = { results: await Promise.all(reservations.map(reserve)) };
  });

  router.post('/reservations/:orderId/release', withOrm, async (ctx) => {
    const orderId = z.uuid().parse(ctx.params.orderId);
    const answer = await releaseStock(em(), orderId);
    answer.lines.forEach((line) => cache.changed(line.productId));
    ctx.body = answer;
  });

  router.post('/products/lookup', withOrm, async (ctx) => {
    const { ids } = lookupRequest.parse(ctx.request.body);
    ctx.body = await lookupProducts(em(), ids);
  });

  return router;
}
