import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import Router from '@koa/router';
import jwt from 'jsonwebtoken';
import { requireRole, requireUser } from '../src/auth/require-user.ts';
import { createTokenVerifier, unknownKey } from '../src/auth/verify-token.ts';
import { call, startApp, type AppUnderTest } from './support.ts';

const ours = generateKeyPairSync('rsa', { modulusLength: 2048 });
const theirs = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = 'key-1';
const issuer = 'sidecart-auth';
const audience = 'sidecart';

const verify = createTokenVerifier({
  issuer,
  audience,
  resolveKey: async (wanted) => {
    if (wanted === kid) return ours.publicKey;
    throw unknownKey(wanted);
  },
});

const router = new Router()
  .get('/me', requireUser(verify), (ctx) => {
    ctx.body = ctx.state.user;
  })
  .get('/admin', requireUser(verify), requireRole('admin', 'support'), (ctx) => {
    ctx.body = { admitted: true };
  });

let app: AppUnderTest;
beforeAll(async () => {
  app = await startApp({ routers: [router] });
});
afterAll(() => app.close());

const claims = { sub: 'user-1', roles: ['customer'] };
const sign = (options: jwt.SignOptions = {}, payload: object = claims) =>
  jwt.sign(payload, ours.privateKey, {
    algorithm: 'RS256',
    keyid: kid,
    issuer,
    audience,
    expiresIn: 300,
    ...options,
  });
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('requireUser', () => {
  test('with a valid token, puts the user id and roles on ctx.state.user', async () => {
    const response = await call(app.url, 'GET', '/me', withToken(sign()));

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id: 'user-1', roles: ['customer'] });
  });

  test('without a token, answers 401 missing-token with a Bearer challenge', async () => {
    const response = await call(app.url, 'GET', '/me');

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(response.body).toMatchObject({ code: 'missing-token' });
  });

  test('with an expired token, answers 401 token-expired', async () => {
    const expired = sign({ expiresIn: -60 });

    const response = await call(app.url, 'GET', '/me', withToken(expired));

    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 'token-expired' });
  });

  const hostile: [string, () => string][] = [
    [
      'alg: none',
      () =>
        `${base64url({ alg: 'none', typ: 'JWT', kid })}.${base64url({ ...claims, iss: issuer, aud: audience, exp: nowSeconds() + 300 })}.`,
    ],
    [
      'HS256 signed with the public key PEM as the secret',
      () =>
        jwt.sign(claims, ours.publicKey.export({ type: 'spki', format: 'pem' }) as string, {
          algorithm: 'HS256',
          keyid: kid,
          issuer,
          audience,
        }),
    ],
    ['the wrong audience', () => sign({ audience: 'someone-else' })],
    ['the wrong issuer', () => sign({ issuer: 'evil-auth' })],
    ['another key under our kid', () => jwt.sign(claims, theirs.privateKey, signedBy(kid))],
    ['another key under its own kid', () => jwt.sign(claims, theirs.privateKey, signedBy('k-2'))],
    ['no kid', () => jwt.sign(claims, ours.privateKey, signedBy())],
    ['no roles claim', () => sign({}, { sub: 'user-1' })],
    ['a tampered payload', () => tamper(sign(), { ...claims, roles: ['admin'] })],
    ['not a JWT at all', () => 'abc.def.ghi'],
  ];

  test.each(hostile)('a token with %s is refused with 401 invalid-token', async (_case, token) => {
    const response = await call(app.url, 'GET', '/me', withToken(token()));

    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(response.body).toMatchObject({ status: 401, code: 'invalid-token' });
  });

  test.each(['bearer', 'BEARER', 'BeArEr'])(
    'accepts the scheme spelled %s: auth schemes are case-insensitive (RFC 9110)',
    async (scheme) => {
      const response = await call(app.url, 'GET', '/me', {
        headers: { authorization: `${scheme} ${sign()}` },
      });

      expect(response.status).toBe(200);
      expect(response.body).toEqual({ id: 'user-1', roles: ['customer'] });
    },
  );

  test('a non-bearer Authorization header is refused with 401 invalid-token', async () => {
    const response = await call(app.url, 'GET', '/me', {
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    });

    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 'invalid-token' });
  });
});

describe('requireRole', () => {
  test('lets a user with one of the roles through', async () => {
    const token = sign({}, { sub: 'user-2', roles: ['customer', 'support'] });

    const response = await call(app.url, 'GET', '/admin', withToken(token));

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ admitted: true });
  });

  test('refuses a signed-in user without any of the roles with 403 forbidden', async () => {
    const response = await call(app.url, 'GET', '/admin', withToken(sign()));

    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ status: 403, code: 'forbidden' });
  });
});

describe('the verified-token cache', () => {
  const counting = (cacheMs?: number) => {
    const lookups: string[] = [];
    const verifyCounted = createTokenVerifier({
      issuer,
      audience,
      cacheMs,
      resolveKey: async (wanted) => {
        lookups.push(wanted);
        return ours.publicKey;
      },
    });
    return { lookups, verify: verifyCounted };
  };

  test('a token verified once is known again without a second signature check', async () => {
    const { lookups, verify: cached } = counting();
    const token = sign();

    const users = [await cached(token), await cached(token), await cached(token)];

    expect(users).toEqual(Array(3).fill({ id: 'user-1', roles: ['customer'] }));
    expect(lookups).toHaveLength(1);
  });

  test('a token with a changed signature or payload is checked anew, and refused', async () => {
    const { verify: cached } = counting();
    const token = sign();
    await cached(token);

    const forged = tamper(token, { sub: 'admin-1', roles: ['admin'] });
    const resigned = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(342)}`;

    await expect(cached(forged)).rejects.toMatchObject({ status: 401, code: 'invalid-token' });
    await expect(cached(resigned)).rejects.toMatchObject({ status: 401, code: 'invalid-token' });
  });

  test('a cached token is refused once its exp has passed, and re-checked once cacheMs has', async () => {
    const { lookups, verify: cached } = counting(10_000);
    const start = Date.now();
    const shortLived = sign({ expiresIn: 5 });
    const longLived = sign({ expiresIn: 300 }, { sub: 'user-3', roles: ['customer'] });
    await cached(shortLived);
    await cached(longLived);
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(start + 7_000);
      await expect(cached(shortLived)).rejects.toMatchObject({ code: 'token-expired' });
      await cached(longLived);
      expect(lookups).toHaveLength(3); // the expired one checked again; the other still known

      now.mockReturnValue(start + 12_000);
      await cached(longLived);
      expect(lookups).toHaveLength(4);
    } finally {
      now.mockRestore();
    }
  });

  test("an answer is the caller's own copy: changing it changes no later answer", async () => {
    const { verify: cached } = counting();
    const token = sign();

    (await cached(token)).roles.push('admin');

    expect(await cached(token)).toEqual({ id: 'user-1', roles: ['customer'] });
  });
});

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function signedBy(keyid?: string): jwt.SignOptions {
  const options: jwt.SignOptions = { algorithm: 'RS256', issuer, audience, expiresIn: 300 };
  return keyid ? { ...options, keyid } : options;
}

/** Swaps the payload of a signed token, keeping its header and signature. */
function tamper(token: string, payload: object): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64url({ ...payload, iss: issuer, aud: audience, exp: nowSeconds() + 300 })}.${signature}`;
}
