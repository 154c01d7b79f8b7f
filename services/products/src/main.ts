import {
  createDaprClient,
  createLogger,
  createTokenVerifier,
  daprJwksFetcher,
  jwksKeyResolver,
  publishWithDapr,
  serve,
  startOutboxRelay,
  startService,
} from '@sidecart/chassis';
import { buildApp } from './app.ts';
import { loadProductsConfig } from './config.ts';
import { connectDatabase } from './db.ts';
import { startProductCache } from './products/product-cache.ts';

await startService(async () => {
  const config = loadProductsConfig();
  const logger = createLogger('products', config.LOG_LEVEL, config.SERVICE_REPLICA);
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  const dapr = createDaprClient({
    host: config.DAPR_HOST,
    port: config.DAPR_HTTP_PORT,
    apiToken: config.DAPR_API_TOKEN,
    timeoutMs: config.DAPR_TIMEOUT_MS,
    logger,
  });
  // Tokens are verified here, with auth's public keys fetched (and cached) through Dapr.
  const verify = createTokenVerifier({
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    resolveKey: jwksKeyResolver({
      jwksUri: `http://${config.AUTH_APP_ID}${config.AUTH_JWKS_PATH}`,
      fetcher: daprJwksFetcher(dapr, config.AUTH_APP_ID),
    }),
  });
  const cache = startProductCache({
    databaseUrl: config.DATABASE_URL,
    maxEntries: config.PRODUCT_CACHE_ENTRIES,
    logger,
  });
  const relay = startOutboxRelay({
    orm,
    logger,
    publish: publishWithDapr(dapr, config.PUBSUB_NAME),
  });
  const { app, lifecycle } = buildApp({ config, orm, logger, verify, cache });
  await serve({
    app,
    lifecycle,
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    onClose: async () => {
      await relay.stop();
      await cache.close();
      await dapr.close();
      await orm.close();
    },
  });
});
