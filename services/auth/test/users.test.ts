import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { RefreshToken } from '../src/sessions/refresh-token.entity.ts';
import { User } from '../src/users/user.entity.ts';
import { ensureAdmin } from '../src/users/users.use-cases.ts';
import { silentLogger } from '@sidecart/chassis/testing';
import {
  adminCredentials,
  call,
  logInAsAdmin,
  signUp,
  startAuth,
  type AuthUnderTest,
} from './support.ts';

let auth: AuthUnderTest;
let adminToken: string;
beforeAll(async () => {
  auth = await startAuth();
  adminToken = (await logInAsAdmin(auth.url)).body.accessToken;
});
afterAll(() => auth.close());

describe('the first admin', () => {
  test('comes from configuration and holds the admin role', async () => {
    const me = await call(auth.url, 'GET', '/api/auth/me', { token: adminToken });

    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: adminCredentials.email, roles: ['admin'] });
  });

  test('is created once, however often replicas start', async () => {
    await Promise.all(
      [1, 2, 3].map(() =>
        ensureAdmin(auth.em(), adminCredentials.email, 'another-password-1', silentLogger()),
      ),
    );

    expect(await auth.em().count(User, { email: adminCredentials.email })).toBe(1);
    expect((await logInAsAdmin(auth.url)).status).toBe(200);
  });
});

describe('GET /api/auth/users', () => {
  test('pages through users with a cursor, each user exactly once', async () => {
    await Promise.all([1, 2, 3, 4, 5].map(() => signUp(auth.url)));
    const total = await auth.em().count(User, {});

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call(
        auth.url,
        'GET',
        `/api/auth/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: adminToken },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((u: { id: string }) => u.id));
      cursor = page.body.nextCursor;
    } while (cursor);

    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });

  test('is for admins only: a customer gets 403', async () => {
    const customer = await signUp(auth.url);

    const response = await call(auth.url, 'GET', '/api/auth/users', {
      token: customer.accessToken,
    });

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  test('rejects an unknown query parameter and a bad limit with 400', async () => {
    const unknown = await call(auth.url, 'GET', '/api/auth/users?role=admin', {
      token: adminToken,
    });
    const badLimit = await call(auth.url, 'GET', '/api/auth/users?limit=100000', {
      token: adminToken,
    });
    const badCursor = await call(auth.url, 'GET', "/api/auth/users?cursor=1' or 1=1", {
      token: adminToken,
    });

    expect([unknown.status, badLimit.status, badCursor.status]).toEqual([400, 400, 400]);
  });
});

describe('PATCH /api/auth/users/:id', () => {
  test('with the current version in If-Match, changes the roles and answers the new ETag', async () => {
    const seller = await signUp(auth.url);
    const read = await call(auth.url, 'GET', `/api/auth/users/${seller.id}`, { token: adminToken });

    const response = await call(auth.url, 'PATCH', `/api/auth/users/${seller.id}`, {
      token: adminToken,
      body: { roles: ['seller', 'customer'] },
      headers: { 'if-match': read.headers.get('etag')! },
    });

    expect(read.headers.get('etag')).toBe('"1"');
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe('"2"');
    expect(response.body.roles).toEqual(['customer', 'seller']);
  });

  test('without If-Match answers 428; with a stale one 412 naming the current version; nothing changes', async () => {
    const user = await signUp(auth.url);
    const etag = (
      await call(auth.url, 'GET', `/api/auth/users/${user.id}`, { token: adminToken })
    ).headers.get('etag')!;
    await call(auth.url, 'PATCH', `/api/auth/users/${user.id}`, {
      token: adminToken,
      body: { roles: ['seller'] },
      headers: { 'if-match': etag },
    });

    const missing = await call(auth.url, 'PATCH', `/api/auth/users/${user.id}`, {
      token: adminToken,
      body: { roles: ['admin'] },
    });
    const stale = await call(auth.url, 'PATCH', `/api/auth/users/${user.id}`, {
      token: adminToken,
      body: { roles: ['admin'] },
      headers: { 'if-match': etag },
    });

    expect(missing.status).toBe(428);
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ code: 'version-mismatch', currentVersion: 2 });
    const stored = await auth.em().findOneOrFail(User, { id: user.id });
    expect(stored.roles).toEqual(['seller']);
    expect(stored.version).toBe(2);
  });

  test('of 10 concurrent changes with the same If-Match, exactly one wins (no lost update)', async () => {
    const user = await signUp(auth.url);
    const choices = [['seller'], ['admin'], ['customer', 'seller']];

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(auth.url, 'PATCH', `/api/auth/users/${user.id}`, {
          token: adminToken,
          body: { roles: choices[i % 3] },
          headers: { 'if-match': '"1"' },
        }),
      ),
    );

    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(9);
    const winner = results.find((r) => r.status === 200)!;
    const stored = await auth.em().findOneOrFail(User, { id: user.id });
    expect(stored.version).toBe(2);
    expect(stored.roles).toEqual(winner.body.roles);
  });

  test('If-Match: * matches any current version: 10 concurrent changes all apply (no 412)', async () => {
    const user = await signUp(auth.url);
    const choices = [['seller'], ['admin'], ['customer', 'seller']];

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(auth.url, 'PATCH', `/api/auth/users/${user.id}`, {
          token: adminToken,
          body: { roles: choices[i % 3] },
          headers: { 'if-match': '*' },
        }),
      ),
    );

    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    // A change to the roles a user already has writes nothing, so versions may repeat.
    const versions = results.map((r) => Number(JSON.parse(r.headers.get('etag')!)));
    const latest = Math.max(...versions);
    const stored = await auth.em().findOneOrFail(User, { id: user.id });
    expect(latest).toBeGreaterThan(1);
    expect(stored.version).toBe(latest);
    const last = results.find((r) => r.headers.get('etag') === `"${latest}"`)!;
    expect(stored.roles).toEqual(last.body.roles);
  });

  test('an admin cannot change their own roles', async () => {
    const me = await call(auth.url, 'GET', '/api/auth/me', { token: adminToken });

    const response = await call(auth.url, 'PATCH', `/api/auth/users/${me.body.id}`, {
      token: adminToken,
      body: { roles: ['customer'] },
      headers: { 'if-match': '*' },
    });

    expect(response.status).toBe(409);
    expect((await auth.em().findOneOrFail(User, { id: me.body.id })).roles).toEqual(['admin']);
  });

  test('rejects unknown roles, and answers 404 for ids that are not UUIDs', async () => {
    const user = await signUp(auth.url);

    const badRole = await call(auth.url, 'PATCH', `/api/auth/users/${user.id}`, {
      token: adminToken,
      body: { roles: ['root'] },
      headers: { 'if-match': '*' },
    });
    const badId = await call(auth.url, 'PATCH', '/api/auth/users/42', {
      token: adminToken,
      body: { roles: ['seller'] },
      headers: { 'if-match': '*' },
    });

    expect(badRole.status).toBe(400);
    expect(badId.status).toBe(404);
  });
});

describe('DELETE /api/auth/users/:id', () => {
  test('removes the user and their sessions: they can no longer log in or refresh', async () => {
    const user = await signUp(auth.url);

    const response = await call(auth.url, 'DELETE', `/api/auth/users/${user.id}`, {
      token: adminToken,
    });

    expect(response.status).toBe(204);
    expect(await auth.em().count(User, { id: user.id })).toBe(0);
    expect(await auth.em().count(RefreshToken, { user: user.id })).toBe(0);
    const login = await call(auth.url, 'POST', '/api/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(401);
    const me = await call(auth.url, 'GET', '/api/auth/me', { token: user.accessToken });
    expect(me.status).toBe(401);
  });

  test('an admin cannot delete their own account; an unknown user is 404', async () => {
    const me = await call(auth.url, 'GET', '/api/auth/me', { token: adminToken });

    const self = await call(auth.url, 'DELETE', `/api/auth/users/${me.body.id}`, {
      token: adminToken,
    });
    const unknown = await call(
      auth.url,
      'DELETE',
      '/api/auth/users/0190a000-0000-7000-8000-000000000000',
      { token: adminToken },
    );

    expect(self.status).toBe(409);
    expect(unknown.status).toBe(404);
    expect(await auth.em().count(User, { id: me.body.id })).toBe(1);
  });
});
