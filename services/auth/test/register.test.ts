import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { User } from '../src/users/user.entity.ts';
import { call, newUser, startAuth, type AuthUnderTest } from './support.ts';

let auth: AuthUnderTest;
beforeAll(async () => {
  auth = await startAuth();
});
afterAll(() => auth.close());

const countUsers = () => auth.em().count(User, {});

describe('POST /api/auth/register', () => {
  test('creates a customer and answers 201 without any password material', async () => {
    const user = newUser();

    const response = await call(auth.url, 'POST', '/api/auth/register', { body: user });

    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/api/auth/users/${response.body.id}`);
    expect(response.body).toMatchObject({
      email: user.email,
      name: user.name,
      roles: ['customer'],
      accountType: 'customer',
    });
    expect(JSON.stringify(response.body)).not.toMatch(/password|hash|argon/i);
    const stored = await auth
      .em()
      .findOneOrFail(User, { id: response.body.id }, { populate: ['passwordHash'] });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$/);
  });

  test('a seller account gets the customer and seller roles', async () => {
    const response = await call(auth.url, 'POST', '/api/auth/register', {
      body: newUser({ accountType: 'seller' }),
    });

    expect(response.status).toBe(201);
    expect(response.body.roles).toEqual(['customer', 'seller']);
  });

  test('stores emails in lower case, so a differently cased duplicate gets 409', async () => {
    const user = newUser();
    await call(auth.url, 'POST', '/api/auth/register', { body: user });
    const before = await countUsers();

    const response = await call(auth.url, 'POST', '/api/auth/register', {
      body: { ...user, email: user.email.toUpperCase() },
    });

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('email-taken');
    expect(await countUsers()).toBe(before);
  });

  test('of 8 concurrent registrations of one email, exactly one succeeds', async () => {
    const user = newUser();

    const results = await Promise.all(
      Array.from({ length: 8 }, () => call(auth.url, 'POST', '/api/auth/register', { body: user })),
    );

    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(await auth.em().count(User, { email: user.email })).toBe(1);
  });
});

describe('hostile input to POST /api/auth/register', () => {
  type Case = [
    string,
    { body?: unknown; rawBody?: string; headers?: Record<string, string> },
    number,
    string,
  ];
  const cases: Case[] = [
    ['malformed JSON', { rawBody: '{"email": "a@b.c", ' }, 400, 'malformed-json'],
    ['a JSON string instead of an object', { rawBody: '"hello"' }, 400, 'malformed-json'],
    ['an empty object', { body: {} }, 400, 'validation-failed'],
    ['an array', { body: [newUser()] }, 400, 'validation-failed'],
    ['wrong types', { body: { email: 42, password: true, name: ['x'] } }, 400, 'validation-failed'],
    ['an unknown field', { body: { ...newUser(), isAdmin: true } }, 400, 'validation-failed'],
    [
      'self-registration as admin',
      { body: newUser({ accountType: 'admin' }) },
      400,
      'validation-failed',
    ],
    ['roles smuggled in', { body: { ...newUser(), roles: ['admin'] } }, 400, 'validation-failed'],
    [
      'a prototype-pollution key',
      { rawBody: JSON.stringify(newUser()).replace('{', '{"__proto__":{"roles":["admin"]},') },
      400,
      'malformed-json',
    ],
    ['a very long name', { body: newUser({ name: 'n'.repeat(10_000) }) }, 400, 'validation-failed'],
    [
      'a very long email',
      { body: newUser({ email: `${'e'.repeat(300)}@example.test` }) },
      400,
      'validation-failed',
    ],
    [
      'a very long password',
      { body: newUser({ password: 'p'.repeat(5_000) }) },
      400,
      'validation-failed',
    ],
    ['a short password', { body: newUser({ password: 'short' }) }, 400, 'validation-failed'],
    [
      'an SQL injection email',
      { body: newUser({ email: "x'; drop table users; --@example.test" }) },
      400,
      'validation-failed',
    ],
    [
      'a body over the limit',
      { body: newUser({ name: 'n'.repeat(70 * 1024) }) },
      413,
      'payload-too-large',
    ],
    [
      'a form body',
      { rawBody: 'email=a@b.c', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      'unsupported-media-type',
    ],
  ];

  test.each(cases.map(([name, request, status, code]) => ({ name, request, status, code })))(
    '$name → $status problem+json, and no user is created',
    async ({ request, status, code }) => {
      const before = await countUsers();

      const response = await call(auth.url, 'POST', '/api/auth/register', request);

      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({
        status,
        code,
        title: expect.any(String),
        detail: expect.any(String),
      });
      expect(await countUsers()).toBe(before);
    },
  );

  test('an SQL injection name is stored as plain text', async () => {
    const name = "Robert'); DROP TABLE users;--";

    const response = await call(auth.url, 'POST', '/api/auth/register', {
      body: newUser({ name }),
    });

    expect(response.status).toBe(201);
    expect((await auth.em().findOneOrFail(User, { id: response.body.id })).name).toBe(name);
  });

  test('validation errors point at the offending fields', async () => {
    const response = await call(auth.url, 'POST', '/api/auth/register', {
      body: { email: 'nope', password: 1 },
    });

    const pointers = response.body.errors.map((error: { pointer: string }) => error.pointer).sort();
    expect(pointers).toEqual(['/email', '/name', '/password']);
  });
});

describe('text PostgreSQL cannot store', () => {
  test('a NUL character in a body or a query is a 400, not a database error', async () => {
    const before = await countUsers();

    const inName = await call(auth.url, 'POST', '/api/auth/register', {
      body: newUser({ name: 'Ro\u0000bert' }),
    });
    const inLogin = await call(auth.url, 'POST', '/api/auth/login', {
      body: { email: 'a\u0000@b.c', password: 'x' },
    });

    const inQuery = await call(auth.url, 'GET', '/api/auth/users?email=a%00b');

    expect([inName.status, inLogin.status, inQuery.status]).toEqual([400, 400, 400]);
    expect(inName.body).toMatchObject({
      code: 'invalid-characters',
      errors: [{ pointer: '/name' }],
    });
    expect(await countUsers()).toBe(before);
  });
});
