import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { call, createTestDatabase } from '@sidecart/chassis/testing';
import pg from 'pg';
import { startTestSidecar, stateComponent, yamlDocuments, type TestSidecar } from './harness.ts';

// The state API over state.postgresql v1 and v2 (docs/dapr-behaviour.md §3; gotchas 4-7 of §9), over raw
// HTTP, for what differs between the versions. state-api.test.ts covers the rest.

const versions = [
  {
    version: 'v1',
    store: 'v1store',
    table: 'state',
    expiresColumn: 'expiredate',
    etagColumn: 'xmin',
    etag: /^\d+$/,
    staleEtag: '1',
    // jsonb's text form, keys reordered by PostgreSQL.
    stored: '{"a": "<x>", "b": 1}',
    invalid: {
      status: 400,
      message: 'invalid etag value: strconv.ParseUint: parsing "abc": invalid syntax',
    },
  },
  {
    version: 'v2',
    store: 'v2store',
    table: 'v2_state',
    expiresColumn: 'expires_at',
    etagColumn: 'etag',
    etag: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    staleEtag: randomUUID(),
    // Go's json.Marshal: compact, keys sorted, HTML characters escaped.
    stored: '{"a":"\\u003cx\\u003e","b":1}',
    invalid: {
      status: 409,
      message: 'possible etag mismatch. error from state store: invalid UUID length: 3',
    },
  },
] as const;

const mismatch = 'possible etag mismatch. error from state store';

let sidecar: TestSidecar;
let other: TestSidecar;
let db: pg.Pool;

beforeAll(async () => {
  const databaseUrl = await createTestDatabase('state');
  const resources = yamlDocuments(
    stateComponent('v1store', 'v1', { connectionString: databaseUrl }),
    stateComponent('v2store', 'v2', { connectionString: databaseUrl, tablePrefix: 'v2_' }),
  );
  sidecar = await startTestSidecar({ appId: 'state-app', resources, databaseUrl });
  other = await startTestSidecar({ appId: 'other', resources, databaseUrl });
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
});

afterAll(async () => {
  await sidecar?.close();
  await other?.close();
  await db?.end();
});

const state = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(sidecar.url, method, `/v1.0/state/${path}`, { body, headers });

const save = (store: string, items: unknown, query = '') =>
  state('POST', `${store}${query}`, items);

async function etagOf(store: string, key: string): Promise<string> {
  const response = await state('GET', `${store}/${key}`);
  expect(response.status).toBe(200);
  return response.headers.get('etag')!;
}

const saveError = (store: string, message: string) => ({
  errorCode: 'ERR_STATE_SAVE',
  message: `failed saving state in state store ${store}: ${message}`,
});

describe.each(versions)('state.postgresql $version', (v) => {
  test('a saved value reads back with an ETag, re-serialised by the store', async () => {
    const saved = await save(v.store, [{ key: 'order-1', value: { b: 1, a: '<x>' } }]);

    expect(saved.status).toBe(204);
    expect(saved.headers.get('content-type')).toBeNull();
    expect(saved.body).toBe('');
    const read = await fetch(`${sidecar.url}/v1.0/state/${v.store}/order-1`);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toBe('application/json');
    expect(read.headers.get('etag')).toMatch(v.etag);
    expect(read.headers.get('metadata.ttlexpiretime')).toBeNull();
    expect(await read.text()).toBe(v.stored);
  });

  test('the row is stored under <appId>||<key>', async () => {
    await save(v.store, [{ key: 'order-2', value: 'two' }]);

    const { rows } = await db.query(`SELECT key FROM ${v.table} WHERE key LIKE '%order-2'`);
    expect(rows).toEqual([{ key: 'state-app||order-2' }]);
    // Another app id sharing the table does not see it.
    const elsewhere = await call(other.url, 'GET', `/v1.0/state/${v.store}/order-2`);
    expect(elsewhere.status).toBe(204);
  });

  test('a missing key is a 204 without body or ETag', async () => {
    const response = await state('GET', `${v.store}/never-saved`);

    expect(response.status).toBe(204);
    expect(response.body).toBe('');
    expect(response.headers.get('etag')).toBeNull();
    expect(response.headers.get('content-type')).toBeNull();
  });

  test('a save with the current ETag wins and changes it; a stale one is a 409', async () => {
    await save(v.store, [{ key: 'cart', value: 1 }]);
    const etag = await etagOf(v.store, 'cart');

    const updated = await save(v.store, [{ key: 'cart', value: 2, etag }]);
    const stale = await save(v.store, [{ key: 'cart', value: 3, etag }]);

    expect(updated.status).toBe(204);
    expect(await etagOf(v.store, 'cart')).not.toBe(etag);
    expect(stale.status).toBe(409);
    expect(stale.body).toEqual(saveError(v.store, mismatch));
    expect((await state('GET', `${v.store}/cart`)).body).toBe(2);
  });

  test('an ETag on a missing key is a mismatch (409)', async () => {
    const response = await save(v.store, [{ key: 'ghost', value: 1, etag: v.staleEtag }]);

    expect(response.status).toBe(409);
    expect(response.body).toEqual(saveError(v.store, mismatch));
  });

  test(`a malformed ETag is a ${v.invalid.status}`, async () => {
    await save(v.store, [{ key: 'malformed', value: 1 }]);

    const response = await save(v.store, [{ key: 'malformed', value: 2, etag: 'abc' }]);

    expect(response.status).toBe(v.invalid.status);
    expect(response.body).toEqual(saveError(v.store, v.invalid.message));
  });

  test('first-write without an ETag inserts, then refuses with a 500 "no item was updated"', async () => {
    const firstWrite = { concurrency: 'first-write' };

    const first = await save(v.store, [{ key: 'once', value: 1, options: firstWrite }]);
    const second = await save(v.store, [{ key: 'once', value: 2, options: firstWrite }]);

    expect(first.status).toBe(204);
    expect(second.status).toBe(500);
    expect(second.body).toEqual(saveError(v.store, 'no item was updated'));
    expect((await state('GET', `${v.store}/once`)).body).toBe(1);
  });

  test('a multi-item save is not atomic: the good item persists beside a 409', async () => {
    await save(v.store, [{ key: 'pair-b', value: 'old' }]);

    const response = await save(v.store, [
      { key: 'pair-a', value: 'new' },
      { key: 'pair-b', value: 'new', etag: v.staleEtag },
    ]);

    expect(response.status).toBe(409);
    expect(response.body).toEqual(saveError(v.store, `${mismatch}: ${mismatch}`));
    expect((await state('GET', `${v.store}/pair-a`)).body).toBe('new');
    expect((await state('GET', `${v.store}/pair-b`)).body).toBe('old');
  });

  test('delete: missing key 204, stale ETag 409, malformed ETag, then the right ETag', async () => {
    await save(v.store, [{ key: 'doomed', value: 1 }]);
    const etag = await etagOf(v.store, 'doomed');
    const remove = (key: string, ifMatch?: string) =>
      state('DELETE', `${v.store}/${key}`, undefined, ifMatch ? { 'if-match': ifMatch } : {});

    const missing = await remove('not-there');
    const stale = await remove('doomed', v.staleEtag);
    const malformed = await remove('doomed', 'abc');
    const deleted = await remove('doomed', etag);

    expect(missing.status).toBe(204);
    expect(stale.status).toBe(409);
    expect(stale.body).toEqual({
      errorCode: 'ERR_STATE_DELETE',
      message: `failed deleting state with key doomed: ${mismatch}`,
    });
    expect(malformed.status).toBe(v.invalid.status);
    expect(malformed.body).toEqual({
      errorCode: 'ERR_STATE_DELETE',
      message: `failed deleting state with key doomed: ${v.invalid.message}`,
    });
    expect(deleted.status).toBe(204);
    expect((await state('GET', `${v.store}/doomed`)).status).toBe(204);
  });

  test('bulk get: `data` items, found rows first, then the missing keys as {key}', async () => {
    await save(v.store, [
      { key: 'bulk-a', value: { n: 1, tags: ['x'] } },
      { key: 'bulk-b', value: 'b' },
    ]);
    const etags = {
      'bulk-a': await etagOf(v.store, 'bulk-a'),
      'bulk-b': await etagOf(v.store, 'bulk-b'),
    };

    const response = await fetch(`${sidecar.url}/v1.0/state/${v.store}/bulk`, {
      method: 'POST',
      body: JSON.stringify({ keys: ['gone-1', 'bulk-a', 'bulk-b', 'gone-2'] }),
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const text = await response.text();
    // Go's encoder compacts the stored JSON (v1's jsonb text has spaces) and ends with a newline.
    expect(text).toContain('"data":{"n":1,"tags":["x"]}');
    expect(text.endsWith(']\n')).toBe(true);
    const items = JSON.parse(text) as { key: string }[];
    const found = items.slice(0, 2).sort((a, b) => a.key.localeCompare(b.key));
    expect(found).toEqual([
      { key: 'bulk-a', data: { n: 1, tags: ['x'] }, etag: etags['bulk-a'] },
      { key: 'bulk-b', data: 'b', etag: etags['bulk-b'] },
    ]);
    expect(items.slice(2)).toEqual([{ key: 'gone-1' }, { key: 'gone-2' }]);
  });

  test('bulk get of no keys is 200 []; GET …/bulk is a get of the key "bulk"', async () => {
    await save(v.store, [{ key: 'bulk', value: 'a key named bulk' }]);

    const none = await state('POST', `${v.store}/bulk`, { keys: [] });
    const named = await state('GET', `${v.store}/bulk`);

    expect(none.status).toBe(200);
    expect(none.body).toEqual([]);
    expect(named.status).toBe(200);
    expect(named.body).toBe('a key named bulk');
  });

  test('a transaction applies every operation in one DB transaction', async () => {
    await save(v.store, [{ key: 'tx-c', value: 'c' }]);

    const response = await state('POST', `${v.store}/transaction`, {
      operations: [
        { operation: 'upsert', request: { key: 'tx-a', value: 'a' } },
        { operation: 'upsert', request: { key: 'tx-b', value: 'b' } },
        { operation: 'delete', request: { key: 'tx-c' } },
      ],
    });

    expect(response.status).toBe(204);
    expect((await state('GET', `${v.store}/tx-a`)).body).toBe('a');
    expect((await state('GET', `${v.store}/tx-c`)).status).toBe(204);
    const [a, b] = [await etagOf(v.store, 'tx-a'), await etagOf(v.store, 'tx-b')];
    // v1's etag is xmin: every row written by one transaction shares it (docs/dapr-behaviour.md §3.4).
    if (v.version === 'v1') expect(a).toBe(b);
    else expect(a).not.toBe(b);
  });

  test('a transaction with a stale ETag is a 500 and changes nothing', async () => {
    await save(v.store, [{ key: 'tx-keep', value: 'kept' }]);

    const response = await state('POST', `${v.store}/transaction`, {
      operations: [
        { operation: 'upsert', request: { key: 'tx-keep', value: 'changed' } },
        { operation: 'upsert', request: { key: 'tx-other', value: 'x', etag: v.staleEtag } },
      ],
    });

    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      errorCode: 'ERR_STATE_TRANSACTION',
      message: `error while executing state transaction: ${mismatch}`,
    });
    expect((await state('GET', `${v.store}/tx-keep`)).body).toBe('kept');
  });

  test('TTL: GET reports metadata.ttlExpireTime, and an expired row is invisible', async () => {
    const before = Date.now();
    await save(v.store, [{ key: 'short-lived', value: 1, metadata: { ttlInSeconds: '100' } }]);
    await save(v.store, [{ key: 'query-ttl', value: 1 }], '?metadata.ttlInSeconds=100');
    await save(v.store, [{ key: 'forever', value: 1, metadata: { ttlInSeconds: '-1' } }]);

    const read = await state('GET', `${v.store}/query-ttl`);
    const expires = read.headers.get('metadata.ttlExpireTime')!;
    expect(expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(expires)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 99_000);
    expect(Date.parse(expires)).toBeLessThanOrEqual(Date.now() + 101_000);
    const forever = await state('GET', `${v.store}/forever`);
    expect(forever.status).toBe(200);
    expect(forever.headers.get('metadata.ttlExpireTime')).toBeNull();

    // Expire the row now rather than wait for it.
    const { rows } = await db.query(
      `UPDATE ${v.table} SET ${v.expiresColumn} = now() - interval '1 second'
       WHERE key = 'state-app||short-lived' RETURNING ${v.etagColumn}::text AS etag`,
    );
    const expired = await state('GET', `${v.store}/short-lived`);
    const update = await save(v.store, [{ key: 'short-lived', value: 2, etag: rows[0].etag }]);

    expect(expired.status).toBe(204);
    expect(expired.headers.get('etag')).toBeNull();
    expect(update.status).toBe(409);
    expect(update.body).toEqual(saveError(v.store, mismatch));
    const bulk = await state('POST', `${v.store}/bulk`, { keys: ['short-lived'] });
    expect(bulk.body).toEqual([{ key: 'short-lived' }]);
  });

  test('a bad ttlInSeconds is a 500; a number instead of a string is a 400', async () => {
    const bad = await save(v.store, [{ key: 'ttl', value: 1, metadata: { ttlInSeconds: 'soon' } }]);
    const number = await save(v.store, [{ key: 'ttl', value: 1, metadata: { ttlInSeconds: 60 } }]);

    expect(bad.status).toBe(500);
    expect(bad.body).toEqual(
      saveError(
        v.store,
        `error parsing TTL: incorrect value for metadata 'ttlInSeconds': strconv.ParseInt: parsing "soon": invalid syntax`,
      ),
    );
    expect(number.status).toBe(400);
    expect(number.body).toEqual({
      errorCode: 'ERR_MALFORMED_REQUEST',
      message:
        'json: cannot unmarshal number into Go struct field SetRequest.metadata of type string',
    });
  });

  test('50 concurrent writers with one ETag: exactly one wins', async () => {
    await save(v.store, [{ key: 'contended', value: 'start' }]);
    const etag = await etagOf(v.store, 'contended');

    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, writer) =>
        save(v.store, [{ key: 'contended', value: { writer }, etag }]),
      ),
    );

    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 204)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(49);
    const winner = statuses.indexOf(204);
    expect((await state('GET', `${v.store}/contended`)).body).toEqual({ writer: winner });
  });
});
