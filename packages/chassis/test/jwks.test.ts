import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { jwksKeyResolver } from '../src/auth/jwks.ts';
import { createTokenVerifier } from '../src/auth/verify-token.ts';

const first = generateKeyPairSync('rsa', { modulusLength: 2048 });
const second = generateKeyPairSync('rsa', { modulusLength: 2048 });
const issuer = 'sidecart-auth';
const audience = 'sidecart';

const jwkOf = (publicKey: KeyObject, kid: string) => ({
  ...publicKey.export({ format: 'jwk' }),
  kid,
  alg: 'RS256',
  use: 'sig',
});

const tokenFor = (privateKey: KeyObject, kid: string) =>
  jwt.sign({ sub: 'user-1', roles: ['customer'] }, privateKey, {
    algorithm: 'RS256',
    keyid: kid,
    issuer,
    audience,
    expiresIn: 300,
  });

/** A JWKS endpoint that counts its hits and whose key set the test can change. */
async function startJwksServer(keys: object[]) {
  const served = { keys, hits: 0 };
  const server = createServer((_req, res) => {
    served.hits += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: served.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  stops.push(close);
  return { served, close, uri: `http://127.0.0.1:${port}/.well-known/jwks.json` };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

const verifierFor = (jwksUri: string) =>
  createTokenVerifier({ issuer, audience, resolveKey: jwksKeyResolver({ jwksUri }) });

describe('jwksKeyResolver', () => {
  test('resolves a known kid and caches it: a second verify makes no request', async () => {
    const jwks = await startJwksServer([jwkOf(first.publicKey, 'k1')]);
    const verify = verifierFor(jwks.uri);
    const token = tokenFor(first.privateKey, 'k1');

    const user = await verify(token);
    const again = await verify(token);

    expect(user).toEqual({ id: 'user-1', roles: ['customer'] });
    expect(again).toEqual(user);
    expect(jwks.served.hits).toBe(1);
  });

  test('hands out one parsed key object per key, not PEM text to parse on every verify', async () => {
    const jwks = await startJwksServer([jwkOf(first.publicKey, 'k1')]);
    const resolve = jwksKeyResolver({ jwksUri: jwks.uri });

    const [one, two] = [await resolve('k1'), await resolve('k1')];

    expect(typeof one).toBe('object');
    expect(two).toBe(one);
    expect((one as KeyObject).equals(first.publicKey)).toBe(true);
  });

  test('accepts a token signed by a rotated-in key after one refetch', async () => {
    const jwks = await startJwksServer([jwkOf(first.publicKey, 'k1')]);
    const verify = verifierFor(jwks.uri);
    await verify(tokenFor(first.privateKey, 'k1'));
    jwks.served.keys = [jwkOf(first.publicKey, 'k1'), jwkOf(second.publicKey, 'k2')];

    const user = await verify(tokenFor(second.privateKey, 'k2'));

    expect(user.id).toBe('user-1');
    expect(jwks.served.hits).toBe(2);
  });

  test('refuses a token with an unknown kid with 401 invalid-token', async () => {
    const jwks = await startJwksServer([jwkOf(first.publicKey, 'k1')]);
    const verify = verifierFor(jwks.uri);

    const result = verify(tokenFor(second.privateKey, 'k9'));

    await expect(result).rejects.toMatchObject({ status: 401, code: 'invalid-token' });
  });

  test('when the JWKS server is down, answers 503 auth-unavailable for an uncached kid', async () => {
    const jwks = await startJwksServer([jwkOf(first.publicKey, 'k1')]);
    const verify = verifierFor(jwks.uri);
    await jwks.close();

    const result = verify(tokenFor(first.privateKey, 'k1'));

    await expect(result).rejects.toMatchObject({
      status: 503,
      code: 'auth-unavailable',
      headers: { 'retry-after': '1' },
    });
  });

  test('keeps verifying a cached kid while the JWKS server is down', async () => {
    const jwks = await startJwksServer([jwkOf(first.publicKey, 'k1')]);
    const verify = verifierFor(jwks.uri);
    const token = tokenFor(first.privateKey, 'k1');
    await verify(token);
    await jwks.close();

    const user = await verify(token);

    expect(user.id).toBe('user-1');
  });
});
