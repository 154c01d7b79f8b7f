import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { createDaprClient, type Dapr } from '../../src/dapr/client.ts';
import {
  clientErrorCodes,
  DaprError,
  isEtagMismatch,
  isUnavailable,
} from '../../src/dapr/errors.ts';
import { silentLogger } from '../../src/testing/index.ts';
import { daprError, startFakeSidecar, type FakeSidecar } from './fake-sidecar.ts';

const apiToken = 'api-secret';
const timeoutMs = 300;
let sidecar: FakeSidecar;
let dapr: Dapr;

beforeAll(async () => {
  sidecar = await startFakeSidecar();
  dapr = createDaprClient({
    host: '127.0.0.1',
    port: sidecar.port,
    apiToken,
    timeoutMs,
    logger: silentLogger(),
  });
});

afterAll(async () => {
  await dapr.close();
  await sidecar.close();
});

beforeEach(() => {
  sidecar.requests.length = 0;
  sidecar.reply = () => ({ status: 204 });
});

async function rejectionOf(promise: Promise<unknown>): Promise<DaprError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  if (error instanceof DaprError) return error;
  throw error;
}

/** Polls for a condition with a deadline: no sleeps standing in for synchronisation. */
async function until(condition: () => boolean, deadlineMs = 2_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const onlyRequest = () => {
  expect(sidecar.requests).toHaveLength(1);
  return sidecar.requests[0]!;
};

describe('invoke', () => {
  test('posts a JSON body to the app method with the API token and resolves the parsed answer', async () => {
    sidecar.reply = () => ({ status: 201, body: { reserved: true } });

    const answer = await dapr.invoke('products', '/internal/reservations', {
      body: { orderId: 'o-1' },
      headers: { 'content-type': 'application/json', traceparent: '00-abc-def-01' },
    });

    expect(answer).toEqual({ reserved: true });
    const request = onlyRequest();
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1.0/invoke/products/method/internal/reservations');
    expect(request.headers['dapr-api-token']).toBe(apiToken);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers.traceparent).toBe('00-abc-def-01');
    expect(JSON.parse(request.body)).toEqual({ orderId: 'o-1' });
  });

  test('sends a GET without a body when there is none', async () => {
    sidecar.reply = () => ({ status: 200, body: 'plain text' });

    const answer = await dapr.invoke('auth', 'health?verbose=1');

    expect(answer).toBe('plain text');
    expect(onlyRequest()).toMatchObject({
      method: 'GET',
      url: '/v1.0/invoke/auth/method/health?verbose=1',
      body: '',
    });
  });

  test("an app's error answer rejects with its status and body, and is not 'unavailable'", async () => {
    const problem = { status: 409, code: 'insufficient-stock', detail: 'short' };
    sidecar.reply = () => ({ status: 409, body: problem });

    const error = await rejectionOf(dapr.invoke('products', 'internal/reservations', { body: {} }));

    expect(error).toMatchObject({ status: 409, errorCode: undefined, body: problem });
    expect(isUnavailable(error)).toBe(false);
  });

  test("Dapr failing to reach the app is 500 ERR_DIRECT_INVOKE, and 'unavailable'", async () => {
    const message = 'failed to invoke, id: products, err: connection refused';
    sidecar.reply = () => daprError(500, 'ERR_DIRECT_INVOKE', message);

    const error = await rejectionOf(dapr.invoke('products', 'internal/reservations'));

    expect(error.status).toBe(500);
    expect(error.errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(error.body).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message });
    expect(error.message).toContain(message);
    expect(isUnavailable(error)).toBe(true);
  });

  test('rejects with the reason of an aborted signal', async () => {
    sidecar.reply = () => 'hang';
    const controller = new AbortController();
    const reason = new Error('the client went away');

    const call = dapr.invoke('products', 'slow', { signal: controller.signal });
    await until(() => sidecar.requests.length === 1);
    controller.abort(reason);

    await expect(call).rejects.toBe(reason);
  });
});

describe('the per-call timeout', () => {
  test("rejects with 504 ERR_CLIENT_TIMEOUT when Dapr does not answer in time, and is 'unavailable'", async () => {
    sidecar.reply = () => 'hang';
    const started = Date.now();

    const error = await rejectionOf(dapr.invoke('products', 'slow'));

    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(error.status).toBe(504);
    expect(error.errorCode).toBe(clientErrorCodes.timeout);
    expect(isUnavailable(error)).toBe(true);
    expect(onlyRequest().url).toBe('/v1.0/invoke/products/method/slow');
  });
});

describe('getState', () => {
  test('returns the value with its ETag, read through bulk get', async () => {
    sidecar.reply = () => ({
      status: 200,
      body: [{ key: 'user-1', data: { items: [{ productId: 'p', quantity: 1 }] }, etag: '8512' }],
    });

    const state = await dapr.getState('statestore', 'user-1');

    expect(state).toEqual({ value: { items: [{ productId: 'p', quantity: 1 }] }, etag: '8512' });
    const request = onlyRequest();
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1.0/state/statestore/bulk?');
    expect(JSON.parse(request.body)).toEqual({ keys: ['user-1'] });
  });

  test('returns undefined for a missing key', async () => {
    sidecar.reply = () => ({ status: 200, body: [{ key: 'user-1' }] });

    expect(await dapr.getState('statestore', 'user-1')).toBeUndefined();
  });

  test('throws the error Dapr reports for the item', async () => {
    sidecar.reply = () => ({ status: 200, body: [{ key: 'user-1', error: 'connection reset' }] });

    const error = await rejectionOf(dapr.getState('statestore', 'user-1'));

    expect(error).toMatchObject({ status: 500, errorCode: 'ERR_STATE_GET' });
    expect(error.message).toContain('connection reset');
  });

  test('rejects an unknown store with 400 ERR_STATE_STORE_NOT_FOUND', async () => {
    sidecar.reply = () =>
      daprError(400, 'ERR_STATE_STORE_NOT_FOUND', 'state store nope is not found');

    const error = await rejectionOf(dapr.getState('nope', 'user-1'));

    expect(error).toMatchObject({ status: 400, errorCode: 'ERR_STATE_STORE_NOT_FOUND' });
  });
});

describe('saveState', () => {
  test('sends concurrency as Dapr expects it, the etag, and the TTL as a string', async () => {
    await dapr.saveState('statestore', [
      { key: 'user-1', value: { items: [] }, etag: '8512', concurrency: 'first-write' },
      { key: 'user-2', value: 'x', ttlInSeconds: 3600 },
    ]);

    const request = onlyRequest();
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1.0/state/statestore?');
    expect(request.headers['dapr-api-token']).toBe(apiToken);
    expect(JSON.parse(request.body)).toEqual([
      {
        key: 'user-1',
        value: { items: [] },
        etag: '8512',
        options: { concurrency: 'first-write' },
      },
      { key: 'user-2', value: 'x', metadata: { ttlInSeconds: '3600' }, options: {} },
    ]);
  });

  test('throws an ETag mismatch (409 ERR_STATE_SAVE) instead of resolving { error }', async () => {
    const message =
      'failed saving state in state store statestore: possible etag mismatch. error from state store';
    sidecar.reply = () => daprError(409, 'ERR_STATE_SAVE', message);

    const error = await rejectionOf(
      dapr.saveState('statestore', [{ key: 'user-1', value: {}, etag: '1' }]),
    );

    expect(error).toMatchObject({ status: 409, errorCode: 'ERR_STATE_SAVE' });
    expect(error.message).toContain('possible etag mismatch');
    expect(isEtagMismatch(error)).toBe(true);
    expect(isUnavailable(error)).toBe(false);
  });

  test("counts postgres' first-write insert conflict (500 'no item was updated') as a mismatch", async () => {
    sidecar.reply = () =>
      daprError(
        500,
        'ERR_STATE_SAVE',
        'failed saving state in state store statestore: no item was updated',
      );

    const error = await rejectionOf(
      dapr.saveState('statestore', [{ key: 'user-1', value: {}, concurrency: 'first-write' }]),
    );

    expect(error.status).toBe(500);
    expect(isEtagMismatch(error)).toBe(true);
  });

  test('any other store failure is no mismatch', async () => {
    sidecar.reply = () =>
      daprError(500, 'ERR_STATE_SAVE', 'failed saving state in state store statestore: timeout');

    const error = await rejectionOf(dapr.saveState('statestore', [{ key: 'k', value: 1 }]));

    expect(error).toMatchObject({ status: 500, errorCode: 'ERR_STATE_SAVE' });
    expect(isEtagMismatch(error)).toBe(false);
  });
});

describe('deleteState', () => {
  test('sends the etag as If-Match and escapes the key', async () => {
    await dapr.deleteState('statestore', 'a+b c', { etag: '8512' });

    const request = onlyRequest();
    expect(request.method).toBe('DELETE');
    expect(request.url).toBe('/v1.0/state/statestore/a%2Bb%20c?');
    expect(request.headers['if-match']).toBe('8512');
  });

  test('throws a 409 ERR_STATE_DELETE as an ETag mismatch', async () => {
    sidecar.reply = () =>
      daprError(
        409,
        'ERR_STATE_DELETE',
        'failed deleting state with key k: possible etag mismatch',
      );

    const error = await rejectionOf(dapr.deleteState('statestore', 'k', { etag: '1' }));

    expect(error).toMatchObject({ status: 409, errorCode: 'ERR_STATE_DELETE' });
    expect(isEtagMismatch(error)).toBe(true);
  });
});

describe('transactState', () => {
  test('sends the operations with string etags', async () => {
    await dapr.transactState('statestore', [
      { operation: 'upsert', key: 'k1', value: { n: 1 }, etag: '7', concurrency: 'first-write' },
      { operation: 'delete', key: 'k2', etag: '9' },
    ]);

    const request = onlyRequest();
    expect(request.url).toBe('/v1.0/state/statestore/transaction');
    expect(JSON.parse(request.body)).toEqual({
      operations: [
        {
          operation: 'upsert',
          request: {
            key: 'k1',
            value: { n: 1 },
            etag: '7',
            options: { concurrency: 'first-write' },
          },
        },
        { operation: 'delete', request: { key: 'k2', etag: '9', options: {} } },
      ],
      metadata: null,
    });
  });

  test('throws the 500 ERR_STATE_TRANSACTION of a conflict', async () => {
    sidecar.reply = () =>
      daprError(500, 'ERR_STATE_TRANSACTION', 'error while executing state transaction: etag');

    const error = await rejectionOf(
      dapr.transactState('statestore', [{ operation: 'delete', key: 'k', etag: '1' }]),
    );

    expect(error).toMatchObject({ status: 500, errorCode: 'ERR_STATE_TRANSACTION' });
    expect(isEtagMismatch(error)).toBe(false);
  });
});

describe('publish', () => {
  test('sends the data as JSON with the event id and trace context as CloudEvent overrides', async () => {
    const id = '0192f3a4-5b6c-7d8e-9f01-23456789abcd';
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

    await dapr.publish('pubsub', 'order-cancelled', { orderId: 'o-1' }, { id, traceparent });

    const request = onlyRequest();
    const url = new URL(request.url, 'http://sidecar');
    expect(request.method).toBe('POST');
    expect(url.pathname).toBe('/v1.0/publish/pubsub/order-cancelled');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      'metadata.cloudevent.id': id,
      'metadata.cloudevent.traceparent': traceparent,
    });
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ orderId: 'o-1' });
  });

  test('throws an unknown pubsub (404 ERR_PUBSUB_NOT_FOUND) instead of resolving { error }', async () => {
    sidecar.reply = () => daprError(404, 'ERR_PUBSUB_NOT_FOUND', 'pubsub nope is not found');

    const error = await rejectionOf(dapr.publish('nope', 'order-cancelled', { orderId: 'o-1' }));

    expect(error).toMatchObject({ status: 404, errorCode: 'ERR_PUBSUB_NOT_FOUND' });
  });
});

describe('a sidecar that has gone away', () => {
  test("rejects with 503 ERR_SIDECAR_UNREACHABLE, and is 'unavailable'", async () => {
    const doomed = await startFakeSidecar();
    doomed.reply = () => ({ status: 204 });
    const client = createDaprClient({
      host: '127.0.0.1',
      port: doomed.port,
      timeoutMs: 2_000,
      logger: silentLogger(),
    });
    try {
      await client.publish('pubsub', 'order-failed', { orderId: 'o-1' });
    } finally {
      await doomed.close();
    }

    const error = await rejectionOf(client.publish('pubsub', 'order-failed', { orderId: 'o-1' }));

    expect(error).toMatchObject({ status: 503, errorCode: clientErrorCodes.unreachable });
    expect(isUnavailable(error)).toBe(true);
  });
});
