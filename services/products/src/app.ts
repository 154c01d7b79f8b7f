import {
  byUser,
  createApp,
  createRateLimits,
  daprSubscriptions,
  databaseCheck,
  registerBatchMetrics,
  type Logger,
  type MikroORM,
  type TokenVerifier,
} from '@sidecart/chassis';
import type { ProductsConfig } from './config.ts';
import { internalRoutes } from './internal/internal.routes.ts';
import { registerCacheMetrics, type ProductCache } from './products/product-cache.ts';
import { productSubscriptions } from './products/products.events.ts';
import { productsRoutes } from './products/products.routes.ts';
import { reservationSubscriptions } from './reservations/reservations.events.ts';

export interface ProductsAppDeps {
  config: ProductsConfig;
  orm: MikroORM;
  logger: Logger;
  verify: TokenVerifier;
  cache: ProductCache;
}

/** The products service's Koa app, ready to listen (main.ts) or to be driven by tests. */
export function buildApp({ config, orm, logger, verify, cache }: ProductsAppDeps) {
  // Per user, after the token is checked: a seller's script cannot flood the catalog.
  const writeGuards = [
    createRateLimits(orm, { logger }).limit({
      name: 'product-writes',
      ...config.RATE_LIMIT_PRODUCT_WRITES,
      key: byUser,
    }),
  ];
  const internal = internalRoutes({
    orm,
    cache,
    appApiToken: config.APP_API_TOKEN,
    callerAppId: config.INTERNAL_CALLER_APP_ID,
    reserveStatementsInFlight: config.RESERVE_STATEMENTS_IN_FLIGHT,
    logger,
  });
  const products = productsRoutes({ orm, verify, cache, writeGuards });
  const service = createApp({
    service: 'products',
    logger,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readiness: { database: databaseCheck(orm) },
    middleware: [products.hotRead],
    routers: [
      products.router,
      internal.router,
      daprSubscriptions({
        pubsubName: config.PUBSUB_NAME,
        appApiToken: config.APP_API_TOKEN,
        logger,
        subscriptions: [
          ...productSubscriptions(orm, cache),
          ...reservationSubscriptions(orm, cache),
        ],
      }),
    ],
  });
  registerCacheMetrics(service.metrics.registry, cache);
  registerBatchMetrics(service.metrics.registry, internal.reservationCounts, {
    batches: {
      name: 'products_reservation_statements_total',
      help: 'Reservation statements run: one per reservation alone, one per batch',
    },
    items: { name: 'products_reservations_total', help: 'Reservations decided' },
  });
  return service;
}
