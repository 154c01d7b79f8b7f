import { parseArgs } from 'node:util';
import { createLogger, migrate, startService } from '@sidecart/chassis';
import { loadMigrateConfig } from './config.ts';
import { connectDatabase } from './db.ts';

// Applies pending migrations (the local stack, or a Kubernetes Job, runs this once per rollout);
// with --create, writes a new migration from the difference between entities and database.
await startService(async () => {
  const { values } = parseArgs({ options: { create: { type: 'boolean', default: false } } });
  const config = loadMigrateConfig();
  const logger = createLogger('orders-migrate', config.LOG_LEVEL);
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  try {
    if (values.create) {
      const result = await orm.migrator.create();
      logger.info(
        { file: result.fileName },
        'migration written: add it to src/migrations/index.ts',
      );
    } else {
      const applied = await migrate(orm);
      logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
    }
  } finally {
    await orm.close();
  }
});
