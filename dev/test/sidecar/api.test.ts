import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { freePort } from '../../src/stack/ports.ts';
import {
  createSdkClient,
  startTestSidecar,
  testDevOnly,
  testInternalToken,
  testKnownDifference,
  type TestSidecar,
} from './harness.ts';

// The cross-cutting parts of the Dapr HTTP API (docs/dapr-behaviour.md §1, §1.2, §5; gotchas 3 and 10 of §9):
// API token, health, metadata, path handling, body cap, shutdown.

const apiToken = 'api-token-for-tests';

describe('dev sidecar: API token, health, metadata', () => {
  let app: http.Server;
  let sidecar: TestSidecar;
  let noApp: TestSidecar;
  const received: { url: string; token: string | undefined }[] = [];

  beforeAll(async () => {
    app = http.createServer((request, response) => {
      received.push({ url: request.url!, token: request.headers['dapr-api-token'] as string });
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appPort = (app.address() as AddressInfo).port;
    sidecar = await startTestSidecar({ appId: 'api', appPort, apiToken, appApiToken: 'app-token' });
    await sidecar.appReady;
    noApp = await startTestSidecar({ appId: 'lonely', databaseUrl: sidecar.databaseUrl });
  });

  afterAll(async () => {
    await sidecar?.close();
    await noApp?.close();
    await new Promise((resolve) => app?.close(resolve));
  });

  const get = (base: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers });

  test('without the token every route answers 401 text/plain, health checks excepted', async () => {
    for (const path of ['/v1.0/metadata', '/v1.0/state/statestore/k', '/v1.0/invoke/x/method/y']) {
      const response = await get(sidecar.url, path);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toBe('invalid api token\n');
    }
    const wrong = await get(sidecar.url, '/v1.0/metadata', { 'dapr-api-token': 'nope' });
    expect(wrong.status).toBe(401);
    for (const path of ['/v1.0/healthz', '/v1.0/healthz/outbound']) {
      const response = await get(sidecar.url, path);
      expect(response.status).toBe(204);
      expect(response.headers.get('content-type')).toBeNull();
      expect(await response.text()).toBe('');
    }
  });

  test('GET /v1.0/metadata is non-empty JSON describing the app (the JS SDK waits on it)', async () => {
    const response = await get(sidecar.url, '/v1.0/metadata', { 'dapr-api-token': apiToken });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = (await response.json()) as Record<string, any>;
    expect(body).toMatchObject({
      id: 'api',
      runtimeVersion: '1.18.3',
      appConnectionProperties: { port: expect.any(Number), protocol: 'http' },
    });
    // Empty lists are omitted, as daprd does.
    expect(body).not.toHaveProperty('components');
    expect(body).not.toHaveProperty('subscriptions');
  });

  test('PUT /v1.0/metadata/{key} shows under extended', async () => {
    const headers = { 'dapr-api-token': apiToken };
    const put = await fetch(`${sidecar.url}/v1.0/metadata/team`, {
      method: 'PUT',
      headers,
      body: 'checkout',
    });
    expect(put.status).toBe(204);
    const body = (await (await get(sidecar.url, '/v1.0/metadata', headers)).json()) as any;
    expect(body.extended.team).toBe('checkout');
  });

  test('healthz waits for the app; outbound does not; a wrong appid is reported', async () => {
    const waiting = await startTestSidecar({
      appId: 'waiting',
      appPort: await freePort(),
      databaseUrl: sidecar.databaseUrl,
    });
    try {
      const notReady = await get(waiting.url, '/v1.0/healthz');
      expect(notReady.status).toBe(500);
      expect(await notReady.json()).toEqual({
        errorCode: 'ERR_HEALTH_NOT_READY',
        message: 'dapr is not ready: [runtime]',
      });
      expect((await get(waiting.url, '/v1.0/healthz/outbound')).status).toBe(204);
    } finally {
      await waiting.close();
    }
    // Without an app port (daprd without --app-port) there is nothing to wait for.
    expect((await get(noApp.url, '/v1.0/healthz')).status).toBe(204);
    const mismatch = await get(sidecar.url, '/v1.0/healthz?appid=other');
    expect(mismatch.status).toBe(500);
    expect(await mismatch.json()).toEqual({
      errorCode: 'ERR_HEALTH_APPID_NOT_MATCH',
      message: 'dapr app-id does not match',
    });
  });

  test('the token is not forwarded to the app; the app gets APP_API_TOKEN instead', async () => {
    received.length = 0;
    const response = await fetch(`${sidecar.url}/v1.0/invoke/api/method/hello`, {
      headers: { 'dapr-api-token': apiToken },
    });
    expect(response.status).toBe(404);
    expect(received).toEqual([{ url: '/hello', token: 'app-token' }]);
  });

  test('a malformed %-escape in the path is a 400 before routing, even before the token check', async () => {
    for (const [base, path] of [
      [noApp.url, '/v1.0/state/statestore/a%zzb'],
      [noApp.url, '/v1.0/invoke/callee/method/a%zzb'],
      [noApp.url, '/v1.0/publish/p%zz/t'],
      [sidecar.url, '/v1.0/state/statestore/a%2'],
    ] as const) {
      const response = await get(base, path);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(response.headers.get('connection')).toBe('close');
      expect(await response.text()).toBe('400 Bad Request');
    }
  });

  testKnownDifference(
    'non-utf8-escape-500',
    'an escape that is not UTF-8 is a 400 too, never a 500',
    async () => {
      const response = await get(noApp.url, '/v1.0/state/statestore/a%FFb');
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    },
  );

  testDevOnly(
    'the internal port refuses calls meant for another app (a reused port in a stale list)',
    async () => {
      received.length = 0;
      const response = await fetch(`http://127.0.0.1:${sidecar.internalPort}/hello`, {
        headers: {
          'dapr-callee-app-id': 'someone-else',
          'dapr-caller-app-id': 'caller',
          'x-sidecart-internal-token': testInternalToken,
        },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('x-sidecart-invoke-failure')).toBe('Unavailable');
      expect(received).toEqual([]);
    },
  );

  test('double slashes are collapsed before routing', async () => {
    const response = await get(noApp.url, '//v1.0//healthz');
    expect(response.status).toBe(204);
  });

  test('over 4 MiB the state API still looks the store up first (state-api.test.ts: the cap)', async () => {
    const response = await fetch(`${noApp.url}/v1.0/state/statestore`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ key: 'k', value: 'x'.repeat(4 * 1024 * 1024) }]),
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({
      errorCode: 'ERR_STATE_STORE_NOT_CONFIGURED',
      message: 'state store statestore is not configured',
    });
  });

  test('DaprClient sees a started sidecar on its first call', async () => {
    const client = createSdkClient(sidecar, apiToken);
    try {
      expect(await client.health.isHealthy()).toBe(true);
      const metadata = await client.metadata.get();
      expect(metadata.id).toBe('api');
    } finally {
      await client.stop();
    }
  });

  test('POST /v1.0/shutdown answers 204', async () => {
    const spare = await startTestSidecar({ appId: 'spare', databaseUrl: sidecar.databaseUrl });
    const response = await fetch(`${spare.url}/v1.0/shutdown`, { method: 'POST' });
    expect(response.status).toBe(204);
    await spare.close();
  });
});
