import type { EntityManager } from '@mikro-orm/postgresql';
import {
  byUser,
  createApp,
  createRateLimits,
  createTokenVerifier,
  daprSubscriptions,
  databaseCheck,
  nudgeOutboxRelays,
  type KeyResolver,
  type Logger,
  type MikroORM,
} from '@sidecart/chassis';
import { cartRoutes } from './cart/cart.routes.ts';
import type { CartStore } from './cart/cart.store.ts';
import { registerBreakerMetrics, registerReservationMetrics } from './clients/products.metrics.ts';
import type { ProductsClient } from './clients/products.client.ts';
import type { OrdersConfig } from './config.ts';
import { userDeletedSubscription } from './orders/orders.events.ts';
import { ordersRoutes } from './orders/orders.routes.ts';
import { untouchedSettlements } from './orders/placement.queries.ts';

export interface OrdersAppDeps {
  config: OrdersConfig;
  orm: MikroORM;
  logger: Logger;
  products: ProductsClient;
  carts: CartStore;
  /** auth's public keys: its JWKS through Dapr in main.ts, a test key in tests. */
  resolveKey: KeyResolver;
}

/** The orders service's Koa app, ready to listen (main.ts) or to be driven by tests. */
export function buildApp({ config, orm, logger, products, carts, resolveKey }: OrdersAppDeps) {
  const verify = createTokenVerifier({
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    resolveKey,
  });
  const settings = {
    sweepAfterMs: config.SWEEP_AFTER_MS,
    // A repeat waits out the first request's call to products, and a little more.
    waitMs: config.PRODUCTS_TIMEOUT_MS + 1_000,
    // Placing writes its events in its own SQL, outside the unit of work that nudges by itself.
    nudgeRelay: () => nudgeOutboxRelays(orm),
    settleUntouched: untouchedSettlements(orm.em as EntityManager),
  };
  // Shared by the replicas (counters in the orders database); a repeat of a key counts too.
  const placementLimit = createRateLimits(orm, { logger }).limit({
    name: 'place-order',
    ...config.RATE_LIMIT_PLACE_ORDER,
    key: byUser,
  });
  const service = createApp({
    service: 'orders',
    logger,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readiness: { database: databaseCheck(orm) },
    routers: [
      ordersRoutes({ orm, verify, products, settings, placementLimit }),
      cartRoutes({ orm, verify, products, carts, settings, placementLimit }),
      daprSubscriptions({
        pubsubName: config.PUBSUB_NAME,
        appApiToken: config.APP_API_TOKEN,
        logger,
        subscriptions: [userDeletedSubscription(orm, carts)],
      }),
    ],
  });
  registerBreakerMetrics(service.metrics.registry, products.breakers);
  registerReservationMetrics(service.metrics.registry, products.reserveCalls);
  return service;
}
