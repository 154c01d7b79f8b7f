import {
  createDaprClient,
  createLogger,
  publishWithDapr,
  serve,
  startOutboxRelay,
  startService,
} from '@sidecart/chassis';
import { buildApp } from './app.ts';
import { loadAuthConfig } from './config.ts';
import { connectDatabase } from './db.ts';
import { loadSigningKey } from './keys/signing-key.ts';
import { ensureAdmin } from './users/users.use-cases.ts';

await startService(async () => {
  const config = loadAuthConfig();
  const logger = createLogger('auth', config.LOG_LEVEL, config.SERVICE_REPLICA);
  const key = loadSigningKey({ pem: config.AUTH_PRIVATE_KEY, file: config.AUTH_PRIVATE_KEY_FILE });
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
    await ensureAdmin(orm.em.fork(), config.ADMIN_EMAIL, config.ADMIN_PASSWORD, logger);
  }
  const dapr = createDaprClient({
    host: config.DAPR_HOST,
    port: config.DAPR_HTTP_PORT,
    apiToken: config.DAPR_API_TOKEN,
    timeoutMs: config.DAPR_TIMEOUT_MS,
    logger,
  });
  // Commits through this ORM nudge the relay; it also polls, for events no nudge announced
  // (left by a replica that stopped before publishing them).
  const relay = startOutboxRelay({
    orm,
    logger,
    publish: publishWithDapr(dapr, config.PUBSUB_NAME),
  });
  const { app, lifecycle } = buildApp({ config, orm, logger, key });
  await serve({
    app,
    lifecycle,
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    // The relay finishes its batch while the ORM and the sidecar client are still open.
    onClose: async () => {
      await relay.stop();
      await dapr.close();
      await orm.close();
    },
  });
});
