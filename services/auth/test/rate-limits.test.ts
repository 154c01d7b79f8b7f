import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { call, newUser, signUp, startAuth, type AuthUnderTest } from './support.ts';

// The production defaults, except a lower per-account ceiling so that test needs fewer argon2 runs.
const limits = {
  RATE_LIMIT_LOGIN_ADDRESS: '100/3600/3600',
  RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS: '5/900/900',
  RATE_LIMIT_LOGIN_ACCOUNT: '12/3600/900',
  RATE_LIMIT_REGISTER_ADDRESS: '10/3600',
  RATE_LIMIT_REGISTER_ACCOUNT: '3/3600',
  RATE_LIMIT_REFRESH_ADDRESS: '60/60',
  RATE_LIMIT_REFRESH_TOKEN: '10/60',
};

// Two replicas of auth on one database, as behind the ingress.
let one: AuthUnderTest;
let two: AuthUnderTest;
beforeAll(async () => {
  one = await startAuth(limits);
  two = await startAuth(limits, { databaseUrl: one.databaseUrl, privateKeyPem: one.privateKeyPem });
});
afterAll(async () => {
  await two.close();
  await one.close();
});

let addressCounter = 0;
/** A client address no other test uses (the ingress's X-Forwarded-For; the test talks over loopback). */
const newAddress = () => `198.51.100.${++addressCounter}`;

const logIn = (replica: AuthUnderTest, address: string, email: string, password: string) =>
  call(replica.url, 'POST', '/api/auth/login', {
    body: { email, password },
    headers: { 'x-forwarded-for': address },
  });

const register = (replica: AuthUnderTest, user: object, address: string) =>
  call(replica.url, 'POST', '/api/auth/register', {
    body: user,
    headers: { 'x-forwarded-for': address },
  });

const statuses = (responses: { status: number }[]) =>
  responses.reduce<Record<number, number>>(
    (counts, { status }) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }),
    {},
  );

describe('POST /api/auth/login limits', () => {
  test('50 wrong passwords at once over two replicas: 5 are checked (401), 45 refused unchecked (429)', async () => {
    const owner = await signUp(one.url);
    const attacker = newAddress();

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        logIn(i % 2 ? one : two, attacker, owner.email, `wrong password ${i}`),
      ),
    );

    expect(statuses(results)).toEqual({ 401: 5, 429: 45 });
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body).toMatchObject({ code: 'rate-limited', policy: 'login-account-address' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(refused.headers.get('ratelimit-policy')).toBe(
      '"login-address";q=100;w=3600, "login-account-address";q=5;w=900',
    );
    expect(refused.headers.get('ratelimit')).toMatch(/"login-account-address";r=0;t=\d+$/);
  });

  test('the owner still signs in from another address while that one is blocked', async () => {
    const owner = await signUp(one.url);
    const attacker = newAddress();
    for (let i = 0; i < 6; i += 1) await logIn(one, attacker, owner.email, 'wrong password');

    const ownerLogin = await logIn(two, newAddress(), owner.email, owner.password);
    const attackerWithRightPassword = await logIn(one, attacker, owner.email, owner.password);

    expect(ownerLogin.status).toBe(200);
    expect(ownerLogin.body.accessToken).toEqual(expect.any(String));
    expect(ownerLogin.headers.get('ratelimit-policy')).toBe(
      '"login-address";q=100;w=3600, "login-account-address";q=5;w=900, "login-account";q=12;w=3600',
    );
    expect(attackerWithRightPassword.status).toBe(429);
  });

  test('a successful login forgives earlier typos on that address', async () => {
    const owner = await signUp(one.url);
    const address = newAddress();
    const typos = async () => {
      const results = [];
      for (let i = 0; i < 4; i += 1) results.push(await logIn(one, address, owner.email, 'typo'));
      return results.map((r) => r.status);
    };

    const before = await typos();
    const success = await logIn(two, address, owner.email, owner.password);
    const after = await typos();

    expect(before).toEqual([401, 401, 401, 401]);
    expect(success.status).toBe(200);
    expect(after).toEqual([401, 401, 401, 401]);
  });

  test('guessing one account from many addresses stops at the per-account ceiling', async () => {
    const owner = await signUp(one.url);
    const results = [];
    for (let a = 0; a < 3; a += 1) {
      const address = newAddress();
      for (let i = 0; i < 5; i += 1)
        results.push(await logIn(one, address, owner.email, `guess ${i}`));
    }

    expect(statuses(results)).toEqual({ 401: 12, 429: 3 });
    expect(results.at(-1)!.body).toMatchObject({ policy: 'login-account' });
  });

  test('many accounts from one address stop at the per-address limit of failures', async () => {
    const address = newAddress();
    const results = [];
    // Unknown accounts: the dummy hash is checked, so they cost argon2 like real ones.
    for (let i = 0; i < 102; i += 1) {
      results.push(await logIn(i % 2 ? one : two, address, `nobody${i}@example.test`, 'guess'));
    }

    expect(statuses(results)).toEqual({ 401: 100, 429: 2 });
    expect(results.at(-1)!.body).toMatchObject({ policy: 'login-address' });
  });
});

describe('POST /api/auth/register limits', () => {
  test('probing which emails exist stops after 10 attempts per address; refusals reveal nothing', async () => {
    const existing = Array.from({ length: 6 }, () => newUser());
    for (const user of existing) expect((await register(one, user, newAddress())).status).toBe(201);
    const prober = newAddress();

    const results = [];
    for (let i = 0; i < 12; i += 1) {
      const user = i % 2 ? newUser() : { ...newUser(), email: existing[i / 2]!.email };
      results.push(await register(i % 2 ? one : two, user, prober));
    }

    expect(results.slice(0, 10).map((r) => r.status)).toEqual([
      409, 201, 409, 201, 409, 201, 409, 201, 409, 201,
    ]);
    expect(results.slice(10).map((r) => r.body.code)).toEqual(['rate-limited', 'rate-limited']);
    expect(results[10]!.body).toMatchObject({ policy: 'register-address' });
    expect(results[10]!.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  test('one email is tried at most 3 times, whatever the address', async () => {
    const user = newUser();

    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await register(one, user, newAddress()));

    expect(results.map((r) => r.status)).toEqual([201, 409, 409, 429]);
    expect(results[3]!.body).toMatchObject({ policy: 'register-account' });
  });
});

describe('POST /api/auth/refresh limits', () => {
  test('one refresh token is presented at most 10 times a minute', async () => {
    const user = await signUp(one.url);

    const results = [];
    for (let i = 0; i < 11; i += 1) {
      results.push(
        await call(two.url, 'POST', '/api/auth/refresh', {
          body: { refreshToken: user.refreshToken },
          headers: { 'x-forwarded-for': newAddress() },
        }),
      );
    }

    expect(results[0]!.status).toBe(200);
    expect(results.slice(1, 10).map((r) => r.body.code)).toEqual(
      Array(9).fill('refresh-token-reused'),
    );
    expect(results[10]!.status).toBe(429);
  });
});
