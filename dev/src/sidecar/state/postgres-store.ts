import type pg from 'pg';
import type { Dialect, StateRow } from './dialects.ts';
import { EtagError, PermanentError } from './errors.ts';
import { goMarshal } from '../go-json.ts';
import type { DeleteRequest, Operation, SetRequest, StateOptions } from './requests.ts';

export interface StoredState {
  key: string;
  data: Buffer;
  etag: string;
  expiresAt?: Date;
}

type Queryable = pg.Pool | pg.PoolClient;

/**
 * One state.postgresql component on its own pool. Every conditional write is a single statement
 * whose WHERE clause checks the etag, so concurrent writers with one etag cannot both win.
 */
export class PostgresStateStore {
  readonly #pool: pg.Pool;
  readonly #dialect: Dialect;

  constructor(pool: pg.Pool, dialect: Dialect) {
    this.#pool = pool;
    this.#dialect = dialect;
  }

  /** Undefined when the key is missing or expired. */
  async get(key: string): Promise<StoredState | undefined> {
    const { rows } = await this.#pool.query<StateRow>(this.#dialect.selectOne, [key]);
    return rows[0] && this.#toState(rows[0]);
  }

  /** Found rows in the database's order (docs/dapr-behaviour.md §3.6); callers append the missing keys. */
  async bulkGet(keys: string[]): Promise<StoredState[]> {
    const { rows } = await this.#pool.query<StateRow>(this.#dialect.selectMany, [keys]);
    return rows.map((row) => this.#toState(row));
  }

  async set(request: SetRequest, db: Queryable = this.#pool): Promise<void> {
    if (request.key === '') throw new PermanentError('missing key in set operation');
    checkOptions(request.options);
    const valueParams = this.#dialect.valueParams(goMarshal(request.value));
    const ttl = parseTtl(request.metadata);
    const expires = ttl > 0 ? `${this.#dialect.now} + interval '${ttl} seconds'` : 'NULL';
    if (request.etag) {
      const etag = this.#dialect.etagParam(request.etag);
      const sql = this.#dialect.updateIfEtag(expires);
      const { rowCount } = await db.query(sql, [request.key, ...valueParams, etag]);
      if (rowCount !== 1) throw new EtagError('mismatch');
      return;
    }
    const firstWrite = request.options.concurrency === 'first-write';
    const sql = this.#dialect.upsert(expires, firstWrite);
    const { rowCount } = await db.query(sql, [request.key, ...valueParams]);
    // first-write without an etag is insert-only: an existing row is a 500, not a 409 (§3.4),
    // and a plain store error, which an outbound retry policy retries (as daprd 1.18.3 does).
    if (rowCount !== 1) throw new Error('no item was updated');
  }

  async delete(request: DeleteRequest, db: Queryable = this.#pool): Promise<void> {
    if (request.key === '') throw new PermanentError('missing key in delete operation');
    if (!request.etag) {
      await db.query(this.#dialect.deleteOne, [request.key]);
      return;
    }
    const etag = this.#dialect.etagParam(request.etag);
    const { rowCount } = await db.query(this.#dialect.deleteIfEtag, [request.key, etag]);
    if (rowCount !== 1) throw new EtagError('mismatch');
  }

  /** In order, all or nothing; a single operation runs without a transaction, as in contrib. */
  async multi(operations: Operation[]): Promise<void> {
    if (operations.length === 1) return this.#apply(operations[0]!, this.#pool);
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      for (const operation of operations) await this.#apply(operation, client);
      await client.query('COMMIT');
    } catch (error) {
      // A connection that cannot even roll back is dropped rather than reused.
      broken = await client.query('ROLLBACK').then(
        () => undefined,
        (rollbackError: Error) => rollbackError,
      );
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * daprd's garbage collector: the `last-cleanup` row lets one sidecar of many delete per
   * interval (contrib:common/component/sql/cleanup.go). Returns the rows removed.
   */
  async cleanupExpired(metadataTable: string, intervalMs: number): Promise<number> {
    const claimed = await this.#pool.query(
      `INSERT INTO ${metadataTable} AS m (key, value) VALUES ($1, now()::text)
       ON CONFLICT (key) DO UPDATE SET value = now()::text
       WHERE (EXTRACT('epoch' FROM now() - m.value::timestamp with time zone) * 1000)::bigint > $2`,
      [this.#dialect.lastCleanupKey, Math.max(intervalMs - 100, 0)],
    );
    if (claimed.rowCount === 0) return 0;
    return (await this.#pool.query(this.#dialect.deleteExpired)).rowCount ?? 0;
  }

  #apply(operation: Operation, db: Queryable): Promise<void> {
    return operation.operation === 'upsert'
      ? this.set(operation.request, db)
      : this.delete(operation.request, db);
  }

  #toState(row: StateRow): StoredState {
    return {
      key: row.key,
      data: this.#dialect.readData(row),
      etag: row.etag,
      ...(row.expires ? { expiresAt: row.expires } : {}),
    };
  }
}

/** contrib:state/request_options.go: unknown option values are store errors (500). */
function checkOptions(options: StateOptions): void {
  const { consistency = '', concurrency = '' } = options;
  if (!['', 'strong', 'eventual'].includes(consistency)) {
    throw new PermanentError(`unrecognized consistency model '${consistency}'`);
  }
  if (!['', 'first-write', 'last-write'].includes(concurrency)) {
    throw new PermanentError(`unrecognized concurrency model '${concurrency}'`);
  }
}

/** contrib:state/utils/ttl.go ParseTTL; 0 and -1 mean "never expires" for postgres (§3.9). */
function parseTtl(metadata: Record<string, string>): number {
  const text = metadata.ttlInSeconds;
  if (text === undefined || text === '') return 0;
  const fail = (reason: string) =>
    new PermanentError(`error parsing TTL: incorrect value for metadata 'ttlInSeconds': ${reason}`);
  if (!/^[+-]?\d+$/.test(text)) {
    throw fail(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  const ttl = BigInt(text);
  if (ttl > 2n ** 63n - 1n || ttl < -(2n ** 63n)) {
    throw fail(`strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  }
  if (ttl < -1n || ttl > 2147483647n) throw fail('must be -1 or greater');
  return Number(ttl);
}
