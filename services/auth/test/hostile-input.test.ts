import { hostileIds, seededRandom } from '@sidecart/chassis/testing';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { RefreshToken } from '../src/sessions/refresh-token.entity.ts';
import { User } from '../src/users/user.entity.ts';
import { call, logInAsAdmin, signUp, startAuth, type AuthUnderTest } from './support.ts';

let auth: AuthUnderTest;
let adminToken: string;
let victim: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  auth = await startAuth();
  adminToken = (await logInAsAdmin(auth.url)).body.accessToken;
  victim = await signUp(auth.url);
});
afterAll(() => auth.close());

const nasty = [
  "' OR '1'='1",
  '"; DROP TABLE users; --',
  '{"$gt": ""}',
  '\u0000',
  '\ud800',
  '💥'.repeat(300),
  'a'.repeat(70_000),
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '%00%27',
];

function hostileValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 9);
  if (depth > 2) return nasty[pick % nasty.length];
  switch (pick) {
    case 0:
      return nasty[Math.floor(next() * nasty.length)];
    case 1:
      return Math.floor(next() * 2 ** 53) * (next() > 0.5 ? -1 : 1);
    case 2:
      return next() > 0.5;
    case 3:
      return null;
    case 4:
      return [hostileValue(next, depth + 1), hostileValue(next, depth + 1)];
    case 5:
      return { $ne: null, __proto__: { admin: true }, nested: hostileValue(next, depth + 1) };
    case 6:
      return 1e308 * 10;
    default:
      return `${nasty[pick % nasty.length]}@example.test`;
  }
}

function hostileBody(next: () => number): Record<string, unknown> {
  const fields = ['email', 'password', 'name', 'accountType', 'refreshToken', 'roles', 'isAdmin'];
  return Object.fromEntries(
    fields.filter(() => next() > 0.4).map((field) => [field, hostileValue(next)]),
  );
}

const routes: [string, string, () => string | undefined, Record<string, string>][] = [
  ['POST', '/api/auth/register', () => undefined, {}],
  ['POST', '/api/auth/login', () => undefined, {}],
  ['POST', '/api/auth/refresh', () => undefined, {}],
  ['POST', '/api/auth/logout', () => undefined, {}],
  ['PATCH', '/api/auth/users/:victim', () => adminToken, { 'if-match': '"1"' }],
];

describe('hostile bodies on every route that takes one', () => {
  test.each(routes.map(([method, path, token, headers]) => ({ method, path, token, headers })))(
    '$method $path: 60 seeded hostile bodies → only 4xx, and no user, role or session changes',
    async ({ method, path, token, headers }) => {
      const next = seededRandom(path.length * 7919);
      const users = await auth.em().count(User, {});
      const sessions = await auth.em().count(RefreshToken, {});
      const statuses: number[] = [];

      for (let i = 0; i < 60; i += 1) {
        const response = await call(auth.url, method, path.replace(':victim', victim.id), {
          body: hostileBody(next),
          token: token(),
          headers,
        });
        statuses.push(response.status);
      }

      expect(statuses.filter((status) => status < 400 || status >= 500)).toEqual([]);
      expect(await auth.em().count(User, {})).toBe(users);
      expect(await auth.em().count(RefreshToken, {})).toBe(sessions);
      const stored = await auth.em().findOneOrFail(User, { id: victim.id });
      expect([stored.roles, stored.version]).toEqual([['customer'], 1]);
    },
  );
});

describe('hostile headers and paths', () => {
  test('ids that are not UUIDs, in any admin route, are 404 and never a database error', async () => {
    const ids = hostileIds;

    const statuses = await Promise.all(
      ids.map((id) =>
        call(auth.url, 'GET', `/api/auth/users/${encodeURIComponent(id)}`, { token: adminToken }),
      ),
    );

    expect(statuses.map((r) => r.status)).toEqual(ids.map(() => 404));
  });

  test('a huge Authorization header is refused with 401 (or 431), never 5xx', async () => {
    const response = await fetch(`${auth.url}/api/auth/me`, {
      headers: { authorization: `Bearer ${'a'.repeat(8000)}.${'b'.repeat(8000)}.c` },
    });

    expect([401, 431]).toContain(response.status);
  });

  test('an If-Match that is not one ETag is a 400 and changes nothing', async () => {
    const response = await call(auth.url, 'PATCH', `/api/auth/users/${victim.id}`, {
      token: adminToken,
      body: { roles: ['admin'] },
      headers: { 'if-match': '"1", "2"' },
    });

    expect(response.status).toBe(400);
    expect((await auth.em().findOneOrFail(User, { id: victim.id })).roles).toEqual(['customer']);
  });
});
