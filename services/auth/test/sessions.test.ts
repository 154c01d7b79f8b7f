import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { RefreshToken } from '../src/sessions/refresh-token.entity.ts';
import { call, newUser, signUp, startAuth, type AuthUnderTest } from './support.ts';

let auth: AuthUnderTest;
beforeAll(async () => {
  auth = await startAuth();
});
afterAll(() => auth.close());

describe('POST /api/auth/login', () => {
  test('issues an RS256 access token with kid, iss, aud, exp, sub and roles, and a refresh token', async () => {
    const user = newUser({ accountType: 'seller' });
    const registered = await call(auth.url, 'POST', '/api/auth/register', { body: user });

    const response = await call(auth.url, 'POST', '/api/auth/login', {
      body: { email: user.email.toUpperCase(), password: user.password },
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    const decoded = jwt.decode(response.body.accessToken, { complete: true })!;
    expect(decoded.header).toMatchObject({ alg: 'RS256', kid: auth.key.kid });
    const claims = decoded.payload as jwt.JwtPayload;
    expect(claims).toMatchObject({
      sub: registered.body.id,
      roles: ['customer', 'seller'],
      iss: 'sidecart-auth',
      aud: 'sidecart',
    });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(response.body.refreshToken).toMatch(/^[\w-]{43}$/);
  });

  test('answers a wrong password and an unknown email with the same generic 401', async () => {
    const user = await signUp(auth.url);

    const wrongPassword = await call(auth.url, 'POST', '/api/auth/login', {
      body: { email: user.email, password: 'not the password' },
    });
    const unknownEmail = await call(auth.url, 'POST', '/api/auth/login', {
      body: { email: 'nobody@example.test', password: user.password },
    });

    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const strip = ({ instance: _, ...rest }: Record<string, unknown>) => rest;
    expect(strip(unknownEmail.body)).toEqual(strip(wrongPassword.body));
    expect(wrongPassword.body).toMatchObject({ status: 401, code: 'invalid-credentials' });
  });
});

describe('POST /api/auth/refresh', () => {
  test('rotates: the new pair works and the refresh token changes', async () => {
    const user = await signUp(auth.url);

    const refreshed = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });

    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).not.toBe(user.refreshToken);
    const me = await call(auth.url, 'GET', '/api/auth/me', { token: refreshed.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
  });

  test('when a used refresh token comes back, revokes its whole family', async () => {
    const user = await signUp(auth.url);
    const first = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });

    const reuse = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });
    const successor = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: first.body.refreshToken },
    });

    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('refresh-token-reused');
    expect(successor.status).toBe(401);
    const live = await auth.em().count(RefreshToken, { user: user.id, revokedAt: null });
    expect(live).toBe(0);
  });

  test('of 10 concurrent refreshes with one token, exactly one succeeds', async () => {
    const user = await signUp(auth.url);

    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(auth.url, 'POST', '/api/auth/refresh', { body: { refreshToken: user.refreshToken } }),
      ),
    );

    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(9);
    expect(results.some((r) => r.status >= 500)).toBe(false);
  });

  test('rejects an unknown refresh token with 401 and changes nothing', async () => {
    const before = await auth.em().count(RefreshToken, {});

    const response = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: 'x'.repeat(43) },
    });

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid-refresh-token');
    expect(await auth.em().count(RefreshToken, {})).toBe(before);
  });

  test('rejects an expired refresh token', async () => {
    const user = await signUp(auth.url);
    await auth
      .em()
      .nativeUpdate(RefreshToken, { user: user.id }, { expiresAt: new Date(Date.now() - 1000) });

    const response = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid-refresh-token');
  });
});

describe('POST /api/auth/logout', () => {
  test('revokes the session: its refresh token no longer works', async () => {
    const user = await signUp(auth.url);

    const logout = await call(auth.url, 'POST', '/api/auth/logout', {
      body: { refreshToken: user.refreshToken },
    });
    const refresh = await call(auth.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });

    expect(logout.status).toBe(204);
    expect(refresh.status).toBe(401);
    expect(await auth.em().count(RefreshToken, { user: user.id, revokedAt: null })).toBe(0);
  });

  test('with an unknown token, answers 204 all the same', async () => {
    const response = await call(auth.url, 'POST', '/api/auth/logout', {
      body: { refreshToken: 'unknown' },
    });

    expect(response.status).toBe(204);
  });
});
