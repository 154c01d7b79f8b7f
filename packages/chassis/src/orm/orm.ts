import type { Middleware } from 'koa';
import {
  RequestContext,
  type Constructor,
  type EntityClass,
  type EntitySchema,
  type Routine,
} from '@mikro-orm/core';
import { Migrator, type Migration } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../logger.ts';
import { rateLimitTable } from '../http/rate-limit.migration.ts';
import { EvictingClient } from './evicting-client.ts';

export { MikroORM };

export interface OrmOptions {
  databaseUrl: string;
  entities: (EntityClass<object> | EntitySchema)[];
  /** Stored functions the schema holds beside the entities' tables (schema diff, migrations). */
  routines?: Routine[];
  /** Every migration class, oldest first; explicit so node, jest and images need no file scan. */
  migrations: Constructor<Migration>[];
  /** Where `db:migration:create` writes new migration files. */
  migrationsPath?: string;
  logger: Logger;
  poolSize?: number;
}

/** Connects MikroORM to PostgreSQL; queries (without their values) are logged at debug level. */
export function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: options.databaseUrl,
    entities: options.entities,
    routines: options.routines ?? [],
    extensions: [Migrator],
    pool: { min: 0, max: options.poolSize ?? 10 },
    // Broken connections leave the pool at once instead of leaking or serving the next request.
    driverOptions: { Client: EvictingClient },
    // Tables without entities, written through plain SQL: never dropped by a generated migration.
    schemaGenerator: { skipTables: [rateLimitTable] },
    // Never 'query-params': the formatted SQL would log password and token hashes.
    debug: options.logger.isLevelEnabled('debug')
      ? ['query', 'schema', 'discovery', 'info']
      : false,
    logger: (message) => options.logger.debug({ component: 'orm' }, message),
    migrations: {
      migrationsList: options.migrations.map((migration) => ({
        name: migration.name,
        class: migration,
      })),
      path: options.migrationsPath,
      pathTs: options.migrationsPath,
      emit: 'ts',
      snapshot: false,
      transactional: true,
      allOrNothing: true,
      silent: true,
    },
  });
}

/** Arbitrary, fixed: serialises migration runs of one database across replicas and jobs. */
const migrationLockKey = 7_120_433;

/** Applies pending migrations (under an advisory lock) and returns the names applied. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const em = orm.em.fork();
  return em.transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(?)', [migrationLockKey]);
    const applied = await orm.migrator.up();
    return applied.map((migration) => migration.name);
  });
}

/** Gives each request its own identity map (MikroORM forbids the global EntityManager). */
export function ormRequestContext(orm: MikroORM): Middleware {
  return (_ctx, next) => RequestContext.create(orm.em, next);
}

/** The readiness check: one round trip to the database. */
export function databaseCheck(orm: MikroORM): () => Promise<unknown> {
  return () => orm.em.getConnection().execute('select 1');
}
