import type { PostgresComponentConfig } from './component.ts';
import { EtagError } from './errors.ts';

/** A stored row as both versions' SELECTs return it. */
export interface StateRow {
  key: string;
  value: string | Buffer;
  isbinary?: boolean;
  etag: string;
  expires: Date | null;
}

/**
 * What differs between state.postgresql v1 and v2 (docs/dapr-behaviour.md §3.4, §3.10): schema, etag
 * column and format, value encoding. The SQL follows components-contrib statement by statement.
 */
export interface Dialect {
  readonly capabilities: string[];
  /** Idempotent DDL, run under the migration lock. */
  readonly schema: string[];
  /** daprd's migration bookkeeping row in the metadata table (so a real daprd skips them). */
  readonly migration: { key: string; level: string };
  readonly lastCleanupKey: string;
  readonly deleteExpired: string;
  readonly selectOne: string;
  readonly selectMany: string;
  readonly now: string;
  /** $1 key, then `valueParams`. */
  upsert(expires: string, firstWrite: boolean): string;
  /** $1 key, then `valueParams`, then the etag. */
  updateIfEtag(expires: string): string;
  readonly deleteOne: string;
  readonly deleteIfEtag: string;
  valueParams(json: string): unknown[];
  /** The etag as a query parameter; throws EtagError for a form the store refuses. */
  etagParam(etag: string): string;
  readData(row: StateRow): Buffer;
}

export function dialectFor(config: PostgresComponentConfig): Dialect {
  return config.version === 'v1' ? v1(config) : v2(config);
}

function v1({ table: t }: PostgresComponentConfig): Dialect {
  const select = `SELECT key, value::text AS value, isbinary, xmin::text AS etag, expiredate AS expires
    FROM ${t} WHERE (expiredate IS NULL OR expiredate >= CURRENT_TIMESTAMP) AND `;
  return {
    capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'QUERY_API', 'ACTOR'],
    schema: [
      `CREATE TABLE IF NOT EXISTS ${t} (key text NOT NULL PRIMARY KEY, value jsonb NOT NULL,
        isbinary boolean NOT NULL, insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updatedate TIMESTAMP WITH TIME ZONE NULL)`,
      `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS expiredate TIMESTAMP WITH TIME ZONE`,
      addRowId(t, 'insertdate'),
    ],
    migration: { key: 'migrations', level: '3' },
    lastCleanupKey: 'last-cleanup',
    deleteExpired: `DELETE FROM ${t} WHERE expiredate IS NOT NULL AND expiredate < now()`,
    selectOne: `${select} key = $1`,
    selectMany: `${select} key = ANY($1)`,
    now: 'CURRENT_TIMESTAMP',
    upsert: (expires, firstWrite) =>
      `INSERT INTO ${t} AS t (key, value, isbinary, expiredate) VALUES ($1, $2, $3, ${expires})
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, isbinary = excluded.isbinary,
         updatedate = CURRENT_TIMESTAMP, expiredate = ${expires}` +
      (firstWrite ? ' WHERE (t.expiredate IS NOT NULL AND t.expiredate < CURRENT_TIMESTAMP)' : ''),
    updateIfEtag: (expires) =>
      `UPDATE ${t} SET value = $2, isbinary = $3, updatedate = CURRENT_TIMESTAMP,
         expiredate = ${expires}
       WHERE key = $1 AND xmin = $4::xid AND (expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP)`,
    deleteOne: `DELETE FROM ${t} WHERE key = $1`,
    deleteIfEtag: `DELETE FROM ${t} WHERE key = $1 AND $2::xid = xmin`,
    valueParams: (json) => [json, false],
    etagParam: parseXmin,
    // isbinary rows hold base64 in a JSON string (written by gRPC clients with bytes).
    readData: (row) =>
      row.isbinary
        ? Buffer.from(JSON.parse(row.value as string) as string, 'base64')
        : Buffer.from(row.value as string),
  };
}

function v2({ table: t }: PostgresComponentConfig): Dialect {
  const prefix = t.replace(/state$/, '');
  const select = `SELECT key, value, etag::text AS etag, expires_at AS expires
    FROM ${t} WHERE (expires_at IS NULL OR expires_at >= now()) AND `;
  const expires = `${t.replace(/^.*\./, '')}_expires_at_idx`;
  return {
    capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'ACTOR'],
    schema: [
      `CREATE TABLE IF NOT EXISTS ${t} (key text NOT NULL PRIMARY KEY, value bytea NOT NULL,
        etag uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at timestamp with time zone NOT NULL DEFAULT now(),
        updated_at timestamp with time zone, expires_at timestamp with time zone)`,
      // The name PostgreSQL gives daprd's unnamed index, so both see the same one.
      `CREATE INDEX IF NOT EXISTS ${expires} ON ${t} (expires_at)`,
      addRowId(t, 'created_at'),
    ],
    migration: { key: `migrations-state-v2-${prefix}`, level: '2' },
    // contrib names the garbage collector's row after the table prefix, not the metadata table.
    lastCleanupKey: `last-cleanup-state-v2-${prefix}`,
    deleteExpired: `DELETE FROM ${t} WHERE expires_at IS NOT NULL AND expires_at < now()`,
    selectOne: `${select} key = $1`,
    selectMany: `${select} key = ANY($1)`,
    now: 'now()',
    upsert: (expiresAt, firstWrite) =>
      `INSERT INTO ${t} AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), ${expiresAt})
       ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = now(), etag = gen_random_uuid(),
         expires_at = ${expiresAt}` +
      (firstWrite ? ' WHERE (t.expires_at IS NOT NULL AND t.expires_at < now())' : ''),
    updateIfEtag: (expiresAt) =>
      `UPDATE ${t} SET value = $2, updated_at = now(), etag = gen_random_uuid(),
         expires_at = ${expiresAt}
       WHERE key = $1 AND etag = $3::uuid AND (expires_at IS NULL OR expires_at >= now())`,
    deleteOne: `DELETE FROM ${t} WHERE key = $1`,
    deleteIfEtag: `DELETE FROM ${t} WHERE key = $1 AND etag = $2::uuid`,
    valueParams: (json) => [Buffer.from(json)],
    etagParam: parseUuid,
    readData: (row) => row.value as Buffer,
  };
}

/**
 * contrib v1.18's last migration of both versions (v1's third, v2's second): a `row_id` identity,
 * numbered in insertion order for the rows already there, with a unique index. It runs only
 * while the column is not yet an identity, so a restart takes no table lock and never moves the
 * sequence back under a running sidecar's inserts.
 */
function addRowId(t: string, insertedAt: string): string {
  const index = `"${t.replace(/^.*\./, '').toLowerCase()}_row_id_uidx"`;
  return `DO $migration$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('${t}')
        AND attname = 'row_id' AND NOT attisdropped AND attidentity <> '') THEN
      ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS row_id BIGINT;
      WITH ranked AS (
        SELECT key, ROW_NUMBER() OVER (ORDER BY ${insertedAt} ASC, key ASC) AS rn
        FROM ${t} WHERE row_id IS NULL
      )
      UPDATE ${t} AS s SET row_id = r.rn FROM ranked r WHERE r.key = s.key;
      ALTER TABLE ${t} ALTER COLUMN row_id SET NOT NULL;
      ALTER TABLE ${t} ALTER COLUMN row_id ADD GENERATED BY DEFAULT AS IDENTITY;
      PERFORM setval(pg_get_serial_sequence('${t}', 'row_id'),
        COALESCE((SELECT MAX(row_id) FROM ${t}), 0) + 1, false);
      CREATE UNIQUE INDEX IF NOT EXISTS ${index} ON ${t} (row_id);
    END IF;
  END $migration$`;
}

/** v1 etags are xmin: `strconv.ParseUint(etag, 10, 32)` or an *invalid* etag (400). */
function parseXmin(etag: string): string {
  const reason = !/^\d+$/.test(etag)
    ? 'invalid syntax'
    : BigInt(etag) > 0xffffffffn
      ? 'value out of range'
      : undefined;
  if (reason)
    throw new EtagError('invalid', `strconv.ParseUint: parsing ${JSON.stringify(etag)}: ${reason}`);
  return BigInt(etag).toString();
}

/** v2 etags are UUIDs: google/uuid's `Parse`, or a *mismatch* (409) right away. */
function parseUuid(etag: string): string {
  const length = Buffer.byteLength(etag);
  let text = etag;
  if (length === 45) {
    if (etag.slice(0, 9).toLowerCase() !== 'urn:uuid:') {
      throw new EtagError('mismatch', `invalid urn prefix: ${JSON.stringify(etag.slice(0, 9))}`);
    }
    text = etag.slice(9);
  } else if (length === 38) text = etag.slice(1);
  else if (length === 32) {
    text = etag.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  } else if (length !== 36) throw new EtagError('mismatch', `invalid UUID length: ${length}`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.test(text)) {
    throw new EtagError('mismatch', 'invalid UUID format');
  }
  return text.slice(0, 36).toLowerCase();
}
