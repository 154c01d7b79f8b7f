import { createLogger, serve, startService } from '@sidecart/chassis';
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
  const { app, lifecycle } = buildApp({ config, orm, logger, key });
  await serve({
    app,
    lifecycle,
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    onClose: () => orm.close(),
  });
});
