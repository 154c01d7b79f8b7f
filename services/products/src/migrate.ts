import type { EntityManager } from '@mikro-orm/postgresql';
import { runMigrateCommand, startService } from '@sidecart/chassis';
import { loadMigrateConfig } from './config.ts';
import { connectDatabase } from './db.ts';
import { seedDemoCatalog } from './demo/demo-catalog.ts';

// Locally, SEED_DEMO_CATALOG=1 adds the demo catalog once, after the migrations.
await startService(async () => {
  const config = loadMigrateConfig();
  await runMigrateCommand({
    service: 'products',
    logLevel: config.LOG_LEVEL,
    connect: (logger) => connectDatabase(config.DATABASE_URL, logger),
    afterApply: async (orm, logger) => {
      if (!config.SEED_DEMO_CATALOG) return;
      const seeded = await seedDemoCatalog(orm.em.fork() as EntityManager);
      logger.info(
        { seeded },
        seeded ? 'demo catalog seeded (local development only)' : 'demo catalog present',
      );
    },
  });
});
