import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { call, generatePrivateKeyPem, signUp, startAuth, type AuthUnderTest } from './support.ts';

let auth: AuthUnderTest;
let user: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  auth = await startAuth();
  user = await signUp(auth.url);
});
afterAll(() => auth.close());

const claims = () => ({ sub: user.id, roles: ['customer', 'admin'] });
const signWith = (key: string, options: jwt.SignOptions = {}) =>
  jwt.sign(claims(), key, {
    algorithm: 'RS256',
    keyid: auth.key.kid,
    issuer: 'sidecart-auth',
    audience: 'sidecart',
    expiresIn: 300,
    ...options,
  });
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('GET /api/auth/me', () => {
  test('with a valid token, answers the user', async () => {
    const response = await call(auth.url, 'GET', '/api/auth/me', { token: user.accessToken });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: user.id, email: user.email, roles: ['customer'] });
  });

  test('without a token, answers 401 with a Bearer challenge', async () => {
    const response = await call(auth.url, 'GET', '/api/auth/me');

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(response.body.code).toBe('missing-token');
  });
});

describe('hostile tokens are refused with 401 problem+json', () => {
  const hostile: [string, () => string, string][] = [
    [
      'alg: none',
      () =>
        `${base64url({ alg: 'none', typ: 'JWT', kid: auth.key.kid })}.${base64url({ ...claims(), iss: 'sidecart-auth', aud: 'sidecart', exp: 9e9 })}.`,
      'invalid-token',
    ],
    [
      'HS256 signed with the public key as secret',
      () =>
        jwt.sign(claims(), auth.key.publicKey.export({ type: 'spki', format: 'pem' }) as string, {
          algorithm: 'HS256',
          keyid: auth.key.kid,
          issuer: 'sidecart-auth',
          audience: 'sidecart',
        }),
      'invalid-token',
    ],
    [
      'signed by another key under our kid',
      () => signWith(generatePrivateKeyPem()),
      'invalid-token',
    ],
    [
      'signed by another key under another kid',
      () => signWith(generatePrivateKeyPem(), { keyid: 'someone-else' }),
      'invalid-token',
    ],
    [
      'without a kid',
      () =>
        jwt.sign(claims(), auth.privateKeyPem, {
          algorithm: 'RS256',
          issuer: 'sidecart-auth',
          audience: 'sidecart',
        }),
      'invalid-token',
    ],
    ['expired', () => signWith(auth.privateKeyPem, { expiresIn: -10 }), 'token-expired'],
    [
      'for another audience',
      () => signWith(auth.privateKeyPem, { audience: 'someone-else' }),
      'invalid-token',
    ],
    [
      'from another issuer',
      () => signWith(auth.privateKeyPem, { issuer: 'evil' }),
      'invalid-token',
    ],
    [
      'with a tampered payload',
      () => {
        const [h, , s] = user.accessToken.split('.');
        return `${h}.${base64url({ ...claims(), iss: 'sidecart-auth', aud: 'sidecart', exp: 9e9 })}.${s}`;
      },
      'invalid-token',
    ],
    ['garbage', () => 'not.a.jwt', 'invalid-token'],
  ];

  test.each(hostile)('%s', async (_name, makeToken, code) => {
    const response = await call(auth.url, 'GET', '/api/auth/me', { token: makeToken() });

    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe(code);
  });

  test('a forged admin token cannot reach admin routes', async () => {
    const forged = signWith(generatePrivateKeyPem());

    const response = await call(auth.url, 'GET', '/api/auth/users', { token: forged });

    expect(response.status).toBe(401);
  });

  test('a malformed Authorization header gets 401', async () => {
    const response = await call(auth.url, 'GET', '/api/auth/me', {
      headers: { authorization: `Basic ${'a'.repeat(100)}` },
    });

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid-token');
  });
});

describe('GET /api/auth/.well-known/jwks.json', () => {
  test('publishes the signing key under its kid, public parts only', async () => {
    const response = await call(auth.url, 'GET', '/api/auth/.well-known/jwks.json');

    expect(response.status).toBe(200);
    expect(response.body.keys).toEqual([
      { kty: 'RSA', kid: auth.key.kid, alg: 'RS256', use: 'sig', n: expect.any(String), e: 'AQAB' },
    ]);
  });
});
