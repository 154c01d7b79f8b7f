import { setTimeout as delay } from 'node:timers/promises';
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

type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>;

/** Polls until `check` returns a truthy value; fails with `what` after the deadline. */
export async function eventually<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 5000,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}
