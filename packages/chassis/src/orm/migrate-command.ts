import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { createLogger, type Logger } from '../logger.ts';
import { migrate, type MikroORM } from './orm.ts';

export interface MigrateCommandOptions {
  service: string;
  logLevel: LevelWithSilent;
  connect: (logger: Logger) => Promise<MikroORM>;
  /** Runs once the migrations are applied (not with --create), e.g. local demo data. */
  afterApply?: (orm: MikroORM, logger: Logger) => Promise<void>;
}

/**
 * The body of every service's `migrate.ts`: applies pending migrations (the local stack, or a
 * Kubernetes Job, runs it once per rollout); with `--create`, writes a new migration from the
 * difference between the entities and the database.
 */
export async function runMigrateCommand(options: MigrateCommandOptions): Promise<void> {
  const { values } = parseArgs({ options: { create: { type: 'boolean', default: false } } });
  const logger = createLogger(`${options.service}-migrate`, options.logLevel);
  const orm = await options.connect(logger);
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
    await options.afterApply?.(orm, logger);
  } finally {
    await orm.close();
  }
}
