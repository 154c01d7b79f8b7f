import type pg from 'pg';
import type { Dialect } from './dialects.ts';

/**
 * Creates the state and metadata tables like components-contrib's migrations, in one transaction
 * under an advisory lock, so sidecars starting together (several app ids share the tables) do
 * not race. The migration level row is written too, so a real daprd on this database agrees.
 */
export async function migrateStateTables(
  pool: pg.Pool,
  dialect: Dialect,
  metadataTable: string,
): Promise<void> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('dapr-state-migrations'))`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${metadataTable} (key text NOT NULL PRIMARY KEY, value text NOT NULL)`,
    );
    for (const statement of dialect.schema) await client.query(statement);
    await client.query(
      `INSERT INTO ${metadataTable} AS m (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value
       WHERE m.value !~ '^[0-9]+$' OR m.value::int < excluded.value::int`,
      [dialect.migration.key, dialect.migration.level],
    );
    await client.query('COMMIT');
  } catch (error) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(failed);
  }
}
