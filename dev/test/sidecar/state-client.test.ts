import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type DaprClient, StateConcurrencyEnum, StateConsistencyEnum } from '@dapr/dapr';
import type { IEtag } from '@dapr/dapr/types/Etag.type.js';
import { createTestDatabase } from '@sidecart/chassis/testing';
import {
  createSdkClient,
  startTestSidecar,
  stateComponent,
  yamlDocuments,
  type TestSidecar,
} from './harness.ts';

// The state API as services use it: through @dapr/dapr's DaprClient over HTTP (docs/dapr-behaviour.md §7).

const stores: {
  version: string;
  store: string;
  table: Record<string, string>;
  staleEtag: string;
}[] = [
  { version: 'v1', store: 'v1store', table: { tableName: 'v1_state' }, staleEtag: '1' },
  { version: 'v2', store: 'v2store', table: { tablePrefix: 'v2_' }, staleEtag: randomUUID() },
];

let sidecar: TestSidecar;
let client: DaprClient;

beforeAll(async () => {
  const databaseUrl = await createTestDatabase('state_client');
  const resources = yamlDocuments(
    ...stores.map(({ store, version, table }) =>
      stateComponent(store, version, { connectionString: databaseUrl, ...table }),
    ),
  );
  sidecar = await startTestSidecar({ appId: 'sdk-app', resources, databaseUrl });
  client = createSdkClient(sidecar);
});

afterAll(async () => {
  await client?.stop();
  await sidecar?.close();
});

/** The SDK reports HTTP failures as an Error whose message is JSON (docs/dapr-behaviour.md §7). */
function failure(error: unknown): { status: number; body: { errorCode: string; message: string } } {
  const parsed = JSON.parse((error as Error).message) as { status: number; error_msg: string };
  return { status: parsed.status, body: JSON.parse(parsed.error_msg) };
}

const withEtag = (etag: string) => ({
  etag,
  options: {
    concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE,
    consistency: StateConsistencyEnum.CONSISTENCY_STRONG,
  },
});

describe.each(stores)('DaprClient against state.postgresql $version', ({ store, staleEtag }) => {
  test('get returns the value, and "" for a missing key', async () => {
    await client.state.save(store, [{ key: 'profile', value: { name: 'Ada' } }]);

    expect(await client.state.get(store, 'profile')).toEqual({ name: 'Ada' });
    expect(await client.state.get(store, 'nobody')).toBe('');
  });

  test('getBulk returns [{ key, data, etag }] with the ETag a raw GET sees', async () => {
    await client.state.save(store, [{ key: 'bulk-1', value: 'one' }]);
    const raw = await fetch(`${sidecar.url}/v1.0/state/${store}/bulk-1`);

    const items = await client.state.getBulk(store, ['bulk-1', 'bulk-missing']);

    expect(items).toEqual([
      { key: 'bulk-1', data: 'one', etag: raw.headers.get('etag') },
      { key: 'bulk-missing' },
    ]);
  });

  test('save with a stale ETag resolves { error } carrying the 409', async () => {
    await client.state.save(store, [{ key: 'counter', value: 1 }]);
    const [item] = (await client.state.getBulk(store, ['counter'])) as { etag: string }[];

    const fresh = await client.state.save(store, [
      { key: 'counter', value: 2, ...withEtag(item!.etag) },
    ]);
    const stale = await client.state.save(store, [
      { key: 'counter', value: 3, ...withEtag(item!.etag) },
    ]);

    expect(fresh).toEqual({});
    expect(stale.error).toBeInstanceOf(Error);
    expect(failure(stale.error)).toEqual({
      status: 409,
      body: {
        errorCode: 'ERR_STATE_SAVE',
        message: `failed saving state in state store ${store}: possible etag mismatch. error from state store`,
      },
    });
    expect(await client.state.get(store, 'counter')).toBe(2);
  });

  test('delete with a stale ETag resolves { error } 409; with the right one it deletes', async () => {
    await client.state.save(store, [{ key: 'session', value: 'open' }]);
    const [item] = (await client.state.getBulk(store, ['session'])) as { etag: string }[];

    const stale = await client.state.delete(store, 'session', { etag: staleEtag });
    const deleted = await client.state.delete(store, 'session', { etag: item!.etag });

    expect(failure(stale.error).status).toBe(409);
    expect(failure(stale.error).body.errorCode).toBe('ERR_STATE_DELETE');
    expect(deleted).toEqual({});
    expect(await client.state.get(store, 'session')).toBe('');
  });

  test('transaction applies its operations, and throws a 500 on an ETag conflict', async () => {
    await client.state.transaction(store, [
      { operation: 'upsert', request: { key: 'tx-1', value: 'a' } },
      { operation: 'upsert', request: { key: 'tx-2', value: 'b' } },
    ]);

    // The SDK types the etag as { value } but sends it untouched; daprd wants a plain string.
    const etag = staleEtag as unknown as IEtag;
    const error = await client.state
      .transaction(store, [
        { operation: 'upsert', request: { key: 'tx-1', value: 'changed' } },
        { operation: 'delete', request: { key: 'tx-2', etag } },
      ])
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );

    expect(failure(error)).toEqual({
      status: 500,
      body: {
        errorCode: 'ERR_STATE_TRANSACTION',
        message:
          'error while executing state transaction: possible etag mismatch. error from state store',
      },
    });
    expect(await client.state.get(store, 'tx-1')).toBe('a');
    expect(await client.state.get(store, 'tx-2')).toBe('b');
  });

  test("a transaction etag in the SDK's typed { value } form is refused with a 400, as daprd does", async () => {
    const error = await client.state
      .transaction(store, [
        { operation: 'delete', request: { key: 'tx-2', etag: { value: staleEtag } } },
      ])
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );

    expect(failure(error)).toEqual({
      status: 400,
      body: {
        errorCode: 'ERR_MALFORMED_REQUEST',
        message: `failed deserializing HTTP body: 1 error(s) decoding:\n\n* 'ETag' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[value:${staleEtag}]'`,
      },
    });
  });
});
