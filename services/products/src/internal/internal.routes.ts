import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ormRequestContext, type BatchCounts, type Logger, type MikroORM } from '@sidecart/chassis';
import {
  lookupRequest,
  reserveBatchRequest,
  reserveRequest,
  type ReserveRequest,
} from '@sidecart/contracts';
import { z } from 'zod';
import { lookupProducts } from '../products/products.queries.ts';
import type { ProductCache } from '../products/product-cache.ts';
import { releaseStock, reservationStatements } from '../reservations/reservations.use-cases.ts';
import { requireInternalCaller } from './internal-caller.ts';

export interface InternalRoutes {
  router: Router;
  /** Reservation statements run (batches) and the reservations they decided (items). */
  reservationCounts: BatchCounts;
}

export interface InternalRoutesDeps {
  orm: MikroORM;
  cache: ProductCache;
  appApiToken: string | undefined;
  callerAppId: string;
  /** Reservation statements at most running at once; reservations beyond wait as one batch. */
  reserveStatementsInFlight: number;
  logger: Logger;
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
  reserveStatementsInFlight,
  logger,
}: InternalRoutesDeps): InternalRoutes {
  const em = () => orm.em as EntityManager;
  const router = new Router({ prefix: '/internal' });
  router.use(requireInternalCaller(appApiToken, callerAppId));
  const withOrm = ormRequestContext(orm);
  // Statements on the ORM's pool (no request context to build); a taken unit is a change.
  const statements = reservationStatements({ em, inFlight: reserveStatementsInFlight, logger });
  const reserve = async (request: ReserveRequest) => {
    const answer = await statements.load(request);
    if (answer.status === 'reserved') answer.lines.forEach((line) => cache.changed(line.productId));
    return answer;
  };

  router.post('/reservations', async (ctx) => {
    ctx.body = await reserve(reserveRequest.parse(ctx.request.body));
  });

  // Orders sends the reservations that queued while its earlier calls were out as one call:
  // each is still decided on its own, as above, so a batch changes no outcome.
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

  return { router, reservationCounts: statements.counts };
}
