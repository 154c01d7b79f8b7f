import { parseArgs } from 'node:util';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createLogger, migrate, startService } from '@sidecart/chassis';
import { loadMigrateConfig } from './config.ts';
import { connectDatabase } from './db.ts';
import { seedDemoCatalog } from './demo/demo-catalog.ts';

// Applies pending migrations (the local stack, or a Kubernetes Job, runs this once per rollout);
// with --create, writes a new migration from the difference between entities and database.
// Locally, SEED_DEMO_CATALOG=1 then adds the demo catalog once.
await startService(async () => {
  const { values } = parseArgs({ options: { create: { type: 'boolean', default: false } } });
  const config = loadMigrateConfig();
  const logger = createLogger('products-migrate', config.LOG_LEVEL);
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  try {
    if (values.create) {
      const result = await orm.migrator.create();
      logger.info(
        { file: result.fileName },
        'migration written: add it to src/migrations/index.ts',
      );
      return;
    }
    const applied = await migrate(orm);
    logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
    if (config.SEED_DEMO_CATALOG) {
      const seeded = await seedDemoCatalog(orm.em.fork() as EntityManager);
      logger.info(
        { seeded },
        seeded ? 'demo catalog seeded (local development only)' : 'demo catalog present',
      );
    }
  } finally {
    await orm.close();
  }
});
