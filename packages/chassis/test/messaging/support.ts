import type { MikroORM } from '@mikro-orm/postgresql';
import { messagingEntities, messagingMigration } from '../../src/messaging/migration.ts';
import { createOrm, migrate } from '../../src/orm/orm.ts';
import { createTestDatabase, silentLogger } from '../../src/testing/index.ts';

/** A migrated database holding only the messaging tables, and ORMs on it (one per "replica"). */
export async function messagingDatabase(prefix: string) {
  const databaseUrl = await createTestDatabase(prefix);
  const orms: MikroORM[] = [];
  const connect = async () => {
    const orm = await createOrm({
      databaseUrl,
      entities: messagingEntities,
      migrations: [messagingMigration],
      logger: silentLogger(),
    });
    orms.push(orm);
    return orm;
  };
  const orm = await connect();
  await migrate(orm);
  return { orm, connect, close: () => Promise.all(orms.map((each) => each.close())) };
}
