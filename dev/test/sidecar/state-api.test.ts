import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { call, createTestDatabase } from '@sidecart/chassis/testing';
import pg from 'pg';
import {
  startTestSidecar,
  stateComponent,
  testKnownDifference,
  yamlDocuments,
  type TestSidecar,
} from './harness.ts';

// The state API's request validation, store lookup, key prefixes, metadata, table creation and
// garbage collection (docs/dapr-behaviour.md §3.1-§3.3, §3.8-§3.10; gotchas 3-4 of §9), over raw HTTP.

/** The libpq `key=value` form of a URL, as Dapr's docs write connection strings. */
function keywordValue(url: string): string {
  const { hostname, port, username, password, pathname } = new URL(url);
  const quote = (text: string) => `'${decodeURIComponent(text).replace(/['\\]/g, '\\$&')}'`;
  return `host=${hostname} port=${port} user=${quote(username)} password=${quote(password)} dbname=${pathname.slice(1)} sslmode=disable`;
}

let databaseUrl: string;
let sidecar: TestSidecar;
let other: TestSidecar;
let db: pg.Pool;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('state_api');
  const url = databaseUrl;
  const resources = yamlDocuments(
    stateComponent('v1store', 'v1', { connectionString: url }),
    stateComponent('v2store', 'v2', { connectionString: url, tablePrefix: 'v2_' }),
    stateComponent('byname', 'v2', {
      connectionString: url,
      tablePrefix: 'kp_',
      keyPrefix: 'name',
    }),
    stateComponent('raw', 'v2', { connectionString: url, tablePrefix: 'kp_', keyPrefix: 'none' }),
    stateComponent('literal', 'v2', {
      connectionString: url,
      tablePrefix: 'kp_',
      keyPrefix: 'MyTeam',
    }),
    stateComponent('ns', 'v2', {
      connectionString: url,
      tablePrefix: 'kp_',
      keyPrefix: 'namespace',
    }),
    stateComponent('gcstore', 'v2', {
      connectionString: url,
      tablePrefix: 'gc_',
      cleanupInterval: '1s',
    }),
    stateComponent('kvstore', 'v2', { connectionString: keywordValue(url), tablePrefix: 'kv_' }),
  );
  sidecar = await startTestSidecar({ appId: 'state-app', resources, databaseUrl });
  other = await startTestSidecar({ appId: 'other', namespace: 'shop', resources, databaseUrl });
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
});

afterAll(async () => {
  await sidecar?.close();
  await other?.close();
  await db?.end();
});

const state = (method: string, path: string, body?: unknown) =>
  call(sidecar.url, method, `/v1.0/state/${path}`, { body });

const save = (store: string, items: unknown) => state('POST', store, items);

const saveError = (store: string, message: string) => ({
  errorCode: 'ERR_STATE_SAVE',
  message: `failed saving state in state store ${store}: ${message}`,
});

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('request validation and store lookup', () => {
  test('an empty array is a 204; a missing key and a non-array body are 400s', async () => {
    const empty = await save('v2store', []);
    const keyless = await save('v2store', [{ value: 1 }]);
    const object = await save('v2store', { key: 'k', value: 1 });

    expect(empty.status).toBe(204);
    expect(keyless.status).toBe(400);
    expect(keyless.body).toEqual({
      errorCode: 'ERR_MALFORMED_REQUEST',
      message: '"key" is a required field',
    });
    expect(object.status).toBe(400);
    expect(object.body).toEqual({
      errorCode: 'ERR_MALFORMED_REQUEST',
      message: 'json: cannot unmarshal object into Go value of type []state.SetRequest',
    });
  });

  test('an unknown concurrency option is a store error (500)', async () => {
    const response = await save('v2store', [
      { key: 'k', value: 1, options: { concurrency: 'sometimes' } },
    ]);

    expect(response.status).toBe(500);
    expect(response.body).toEqual(
      saveError('v2store', "unrecognized concurrency model 'sometimes'"),
    );
  });

  test('a key containing || is a rich 400', async () => {
    const message =
      "api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'";
    const viaPath = await state('GET', 'v2store/a%7C%7Cb');
    const viaBody = await save('v2store', [{ key: 'a||b', value: 1 }]);

    for (const response of [viaPath, viaBody]) {
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        errorCode: 'ERR_MALFORMED_REQUEST',
        message,
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.BadRequest',
            field_violations: [{ field: 'a||b', description: message }],
          },
          {
            '@type': 'type.googleapis.com/google.rpc.ResourceInfo',
            description: '',
            owner: '',
            resource_name: 'v2store',
            resource_type: 'state',
          },
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            domain: 'dapr.io',
            metadata: null,
            reason: 'DAPR_STATE_ILLEGAL_KEY',
          },
        ],
      });
    }
  });

  test('a + in the path is a space in the key', async () => {
    await save('v2store', [{ key: 'two words', value: 'spaced' }]);

    const response = await state('GET', 'v2store/two+words');

    expect(response.status).toBe(200);
    expect(response.body).toBe('spaced');
  });

  test('an unknown store is a rich 400 on every route', async () => {
    const expected = {
      errorCode: 'ERR_STATE_STORE_NOT_FOUND',
      message: 'state store nope is not found',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          domain: 'dapr.io',
          metadata: { appID: 'state-app' },
          reason: 'DAPR_STATE_NOT_FOUND',
        },
      ],
    };
    const responses = [
      await state('GET', 'nope/k'),
      await save('nope', []),
      await state('DELETE', 'nope/k'),
      await state('POST', 'nope/bulk', { keys: [] }),
      await state('POST', 'nope/transaction', { operations: [] }),
    ];

    for (const response of responses) {
      expect(response.status).toBe(400);
      expect(response.body).toEqual(expected);
    }
  });

  test('without any state store the answer is a 500 ERR_STATE_STORE_NOT_CONFIGURED', async () => {
    const bare = await startTestSidecar({ appId: 'stateless', databaseUrl });
    try {
      const response = await call(bare.url, 'GET', '/v1.0/state/statestore/k');

      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        errorCode: 'ERR_STATE_STORE_NOT_CONFIGURED',
        message: 'state store statestore is not configured',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            domain: 'dapr.io',
            metadata: { appID: 'stateless' },
            reason: 'DAPR_STATE_NOT_CONFIGURED',
          },
        ],
      });
    } finally {
      await bare.close();
    }
  });

  test('transactions: unknown operation 400, empty 204, mapstructure errors 400', async () => {
    const transact = (body: unknown) => state('POST', 'v2store/transaction', body);

    const unknown = await transact({ operations: [{ operation: 'merge', request: { key: 'k' } }] });
    const empty = await transact({ operations: [] });
    const badMetadata = await transact({
      operations: [
        { operation: 'upsert', request: { key: 'k', value: 1, metadata: { ttlInSeconds: 60 } } },
      ],
    });

    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({
      errorCode: 'ERR_NOT_SUPPORTED_STATE_OPERATION',
      message: 'operation type merge not supported',
    });
    expect(empty.status).toBe(204);
    expect(badMetadata.status).toBe(400);
    expect(badMetadata.body).toEqual({
      errorCode: 'ERR_MALFORMED_REQUEST',
      message:
        "failed deserializing HTTP body: 1 error(s) decoding:\n\n* 'Metadata[ttlInSeconds]' expected type 'string', got unconvertible type 'float64', value: '60'",
    });
  });
});

describe('key prefixes, shared tables, metadata and cleanup', () => {
  test('a key=value connection string works like a URL', async () => {
    const saved = await save('kvstore', [{ key: 'k', value: 'via keywords' }]);

    expect(saved.status).toBe(204);
    const { rows } = await db.query(`SELECT convert_from(value, 'UTF8') AS value FROM kv_state`);
    expect(rows).toEqual([{ value: '"via keywords"' }]);
  });

  test('each keyPrefix strategy stores its own key form', async () => {
    for (const store of ['byname', 'raw', 'literal', 'ns']) {
      expect((await save(store, [{ key: 'k', value: store }])).status).toBe(204);
      expect(
        (
          await call(other.url, 'POST', `/v1.0/state/${store}`, {
            body: [{ key: 'k', value: store }],
          })
        ).status,
      ).toBe(204);
    }

    const { rows } = await db.query(`SELECT key FROM kp_state ORDER BY key`);
    // A literal prefix is lower-cased; namespace needs NAMESPACE (else it is the app id).
    expect(rows.map((row) => row.key)).toEqual([
      'byname||k',
      'k',
      'myteam||k',
      'shop.other||k',
      'state-app||k',
    ]);
  });

  // Four daprd processes starting together on a fresh database: one failed to start in one of
  // three full runs (ADR 0006, `concurrent-first-start`); the dev sidecar's migrations hold.
  testKnownDifference(
    'concurrent-first-start',
    'sidecars starting together on a fresh database create the tables once',
    async () => {
      const fresh = await createTestDatabase('state_race');
      const resources = yamlDocuments(
        stateComponent('v1store', 'v1', { connectionString: fresh }),
        stateComponent('v2store', 'v2', { connectionString: fresh, tablePrefix: 'v2_' }),
      );

      const started = await Promise.allSettled(
        ['a', 'b', 'c', 'd'].map((appId) =>
          startTestSidecar({ appId, resources, databaseUrl: fresh }),
        ),
      );

      await Promise.all(
        started.map((result) => result.status === 'fulfilled' && result.value.close()),
      );
      expect(started.map((result) => result.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
    },
  );

  test('GET /v1.0/metadata lists the stores with daprd capabilities', async () => {
    const response = await call(sidecar.url, 'GET', '/v1.0/metadata');

    expect(response.status).toBe(200);
    expect(response.body.components).toEqual(
      expect.arrayContaining([
        {
          name: 'v1store',
          type: 'state.postgresql',
          version: 'v1',
          capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'QUERY_API', 'ACTOR'],
        },
        {
          name: 'v2store',
          type: 'state.postgresql',
          version: 'v2',
          capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'ACTOR'],
        },
      ]),
    );
  });

  test('the tables and daprd migration rows exist, and contrib v1.18 adds a row_id identity', async () => {
    const { rows } = await db.query(
      `SELECT key, value FROM dapr_metadata WHERE key LIKE 'migrations%' ORDER BY key`,
    );

    expect(rows).toEqual([
      { key: 'migrations', value: '3' },
      { key: 'migrations-state-v2-gc_', value: '2' },
      { key: 'migrations-state-v2-kp_', value: '2' },
      { key: 'migrations-state-v2-kv_', value: '2' },
      { key: 'migrations-state-v2-v2_', value: '2' },
    ]);
    const { rows: rowIds } = await db.query(
      `SELECT c.relname AS table, a.attidentity AS identity, a.attnotnull AS "notNull",
         EXISTS (SELECT 1 FROM pg_class i WHERE i.relname = c.relname || '_row_id_uidx') AS indexed
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE a.attname = 'row_id' AND c.relname IN ('state', 'v2_state') ORDER BY c.relname`,
    );
    expect(rowIds).toEqual([
      { table: 'state', identity: 'd', notNull: true, indexed: true },
      { table: 'v2_state', identity: 'd', notNull: true, indexed: true },
    ]);
  });

  test('a body over 4 MiB is cut at the cap: the JSON decoder fails with stream too large', async () => {
    const huge = 'x'.repeat(4 * 1024 * 1024);
    const saved = await save('v2store', [{ key: 'huge', value: huge }]);
    const transaction = await state('POST', 'v2store/transaction', {
      operations: [{ operation: 'upsert', request: { key: 'huge', value: huge } }],
    });
    const bulk = await state('POST', 'v2store/bulk', { keys: ['huge'], padding: huge });

    expect([saved.status, saved.body]).toEqual([
      400,
      { errorCode: 'ERR_MALFORMED_REQUEST', message: 'stream too large' },
    ]);
    for (const response of [transaction, bulk]) {
      expect([response.status, response.body]).toEqual([
        400,
        {
          errorCode: 'ERR_MALFORMED_REQUEST',
          message: 'failed deserializing HTTP body: stream too large',
        },
      ]);
    }
    expect((await state('GET', 'v2store/huge')).status).toBe(204);
  });

  test('expired rows are deleted every cleanupInterval', async () => {
    await save('gcstore', [{ key: 'brief', value: 1, metadata: { ttlInSeconds: '100' } }]);
    await save('gcstore', [{ key: 'lasting', value: 1 }]);
    await db.query(`UPDATE gc_state SET expires_at = now() WHERE key = 'state-app||brief'`);

    const remaining = await until(
      async () => (await db.query(`SELECT key FROM gc_state ORDER BY key`)).rows,
      (rows) => rows.length === 1,
    );

    expect(remaining).toEqual([{ key: 'state-app||lasting' }]);
    const { rowCount } = await db.query(
      `SELECT 1 FROM dapr_metadata WHERE key = 'last-cleanup-state-v2-gc_'`,
    );
    expect(rowCount).toBe(1);
  });
});

describe('a table from before contrib v1.18 (migration level 1)', () => {
  test('is given row_id in insertion order, and new rows continue the sequence', async () => {
    await db.query(`CREATE TABLE up_state (key text NOT NULL PRIMARY KEY, value bytea NOT NULL,
      etag uuid NOT NULL DEFAULT gen_random_uuid(),
      created_at timestamp with time zone NOT NULL DEFAULT now(),
      updated_at timestamp with time zone, expires_at timestamp with time zone)`);
    await db.query(`INSERT INTO up_state (key, value, created_at) VALUES
      ('upgrader||late', '"l"', now() - interval '1 minute'),
      ('upgrader||early', '"e"', now() - interval '2 minutes')`);
    await db.query(
      `INSERT INTO dapr_metadata (key, value) VALUES ('migrations-state-v2-up_', '1')`,
    );

    const upgrader = await startTestSidecar({
      appId: 'upgrader',
      databaseUrl,
      resources: stateComponent('upstore', 'v2', {
        connectionString: databaseUrl,
        tablePrefix: 'up_',
      }),
    });
    try {
      const read = await call(upgrader.url, 'GET', '/v1.0/state/upstore/late');
      const saved = await call(upgrader.url, 'POST', '/v1.0/state/upstore', {
        body: [{ key: 'new', value: 'n' }],
      });

      expect([read.status, read.body, saved.status]).toEqual([200, 'l', 204]);
      const { rows } = await db.query(
        `SELECT key, row_id::int AS "rowId" FROM up_state ORDER BY row_id`,
      );
      expect(rows).toEqual([
        { key: 'upgrader||early', rowId: 1 },
        { key: 'upgrader||late', rowId: 2 },
        { key: 'upgrader||new', rowId: 3 },
      ]);
      const level = await db.query(
        `SELECT value FROM dapr_metadata WHERE key = 'migrations-state-v2-up_'`,
      );
      expect(level.rows).toEqual([{ value: '2' }]);
    } finally {
      await upgrader.close();
    }
  });
});
