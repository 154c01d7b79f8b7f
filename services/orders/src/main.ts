import {
  createDaprClient,
  createLogger,
  daprJwksFetcher,
  jwksKeyResolver,
  publishWithDapr,
  serve,
  startOutboxRelay,
  startService,
} from '@sidecart/chassis';
import { buildApp } from './app.ts';
import { daprCartStore } from './cart/cart.store.ts';
import { createProductsClient } from './clients/products.client.ts';
import { loadOrdersConfig } from './config.ts';
import { connectDatabase } from './db.ts';
import { startSweeper } from './orders/sweeper.ts';

await startService(async () => {
  const config = loadOrdersConfig();
  const logger = createLogger('orders', config.LOG_LEVEL, config.SERVICE_REPLICA);
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  const dapr = createDaprClient({
    host: config.DAPR_HOST,
    port: config.DAPR_HTTP_PORT,
    apiToken: config.DAPR_API_TOKEN,
    timeoutMs: config.DAPR_TIMEOUT_MS,
    logger,
  });
  const products = createProductsClient({
    dapr,
    appId: config.PRODUCTS_APP_ID,
    timeoutMs: config.PRODUCTS_TIMEOUT_MS,
    resetMs: config.BREAKER_RESET_MS,
    reserveCallsInFlight: config.RESERVE_CALLS_IN_FLIGHT,
  });
  // The JWKS URI names auth's app id as host: the fetcher invokes that path through Dapr.
  const resolveKey = jwksKeyResolver({
    jwksUri: `http://${config.AUTH_APP_ID}${config.AUTH_JWKS_PATH}`,
    fetcher: daprJwksFetcher(dapr, config.AUTH_APP_ID),
  });
  const carts = daprCartStore(dapr, config.STATESTORE_NAME);
  const relay = startOutboxRelay({
    orm,
    logger,
    publish: publishWithDapr(dapr, config.PUBSUB_NAME),
  });
  const sweeper = startSweeper({
    orm,
    products,
    logger,
    intervalMs: config.SWEEP_INTERVAL_MS,
    leaseMs: config.PRODUCTS_TIMEOUT_MS + 1_000,
    maxAgeMs: config.PENDING_MAX_AGE_MS,
  });
  const { app, lifecycle } = buildApp({ config, orm, logger, products, carts, resolveKey });
  await serve({
    app,
    lifecycle,
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    // The sweeper and the relay finish their batches while the ORM and the sidecar are open.
    onClose: async () => {
      await sweeper.stop();
      await relay.stop();
      products.shutdown();
      await dapr.close();
      await orm.close();
    },
  });
});
