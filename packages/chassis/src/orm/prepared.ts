import type { EntityManager } from '@mikro-orm/postgresql';

/** A hot statement, prepared once per connection by its name (ADR 0016). */
export interface PreparedStatement {
  name: string;
  text: string;
}

interface Pool {
  query(query: PreparedStatement & { values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a statement on the ORM's own pool (with its broken-connection eviction) as a named
 * prepared statement with bind parameters: PostgreSQL parses and plans it once per connection
 * instead of on every call, and no value is inlined and escaped in JavaScript first, as the
 * ORM's `execute` does. For the few statements on a hot path; everything else uses the ORM.
 */
export async function runPrepared<Row>(
  em: EntityManager,
  statement: PreparedStatement,
  values: unknown[],
): Promise<Row[]> {
  const pool = (await em.getConnection().getNativeClient()) as Pool;
  return (await pool.query({ ...statement, values })).rows as Row[];
}
