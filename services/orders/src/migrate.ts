import { runMigrateCommand, startService } from '@sidecart/chassis';
import { loadMigrateConfig } from './config.ts';
import { connectDatabase } from './db.ts';

await startService(async () => {
  const config = loadMigrateConfig();
  await runMigrateCommand({
    service: 'orders',
    logLevel: config.LOG_LEVEL,
    connect: (logger) => connectDatabase(config.DATABASE_URL, logger),
  });
});
