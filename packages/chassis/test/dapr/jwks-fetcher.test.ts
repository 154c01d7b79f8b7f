import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { jwksKeyResolver } from '../../src/auth/jwks.ts';
import { createTokenVerifier } from '../../src/auth/verify-token.ts';
import { createDaprClient, type Dapr } from '../../src/dapr/client.ts';
import { daprJwksFetcher } from '../../src/dapr/jwks-fetcher.ts';
import { silentLogger } from '../../src/testing/index.ts';
import { startFakeSidecar, type FakeSidecar } from './fake-sidecar.ts';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const settings = { issuer: 'sidecart-auth', audience: 'sidecart' };
let sidecar: FakeSidecar;
let dapr: Dapr;

beforeAll(async () => {
  sidecar = await startFakeSidecar();
  dapr = createDaprClient({
    host: '127.0.0.1',
    port: sidecar.port,
    apiToken: 'api-secret',
    timeoutMs: 2_000,
    logger: silentLogger(),
  });
});

afterAll(async () => {
  await dapr.close();
  await sidecar.close();
});

describe('daprJwksFetcher', () => {
  test("lets a verifier check tokens with auth's key set, invoked through Dapr", async () => {
    sidecar.reply = () => ({ status: 200, body: { keys: [jwk] } });
    const verify = createTokenVerifier({
      ...settings,
      resolveKey: jwksKeyResolver({
        jwksUri: 'http://auth/api/auth/.well-known/jwks.json',
        fetcher: daprJwksFetcher(dapr, 'auth'),
      }),
    });
    const token = jwt.sign({ sub: 'user-1', roles: ['seller'] }, privateKey, {
      ...settings,
      algorithm: 'RS256',
      keyid: 'k1',
      expiresIn: 60,
    });

    const user = await verify(token);

    expect(user).toEqual({ id: 'user-1', roles: ['seller'] });
    expect(sidecar.requests.map(({ method, url }) => `${method} ${url}`)).toEqual([
      'GET /v1.0/invoke/auth/method/api/auth/.well-known/jwks.json',
    ]);
    expect(sidecar.requests[0]!.headers['dapr-api-token']).toBe('api-secret');
  });

  test('rejects an answer without a key set', async () => {
    sidecar.reply = () => ({ status: 200, body: { keys: 'none' } });

    const fetch = daprJwksFetcher(dapr, 'auth');

    await expect(fetch('http://auth/api/auth/.well-known/jwks.json')).rejects.toThrow(
      'auth answered no key set at /api/auth/.well-known/jwks.json',
    );
  });
});
