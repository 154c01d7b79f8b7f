import { generateKeyPairSync } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { migrate, type MikroORM } from '@sidecart/chassis';
import { call, createTestDatabase, listen, silentLogger } from '@sidecart/chassis/testing';

export { call };
import { buildApp } from '../src/app.ts';
import { loadAuthConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db.ts';
import { loadSigningKey, type SigningKey } from '../src/keys/signing-key.ts';
import { ensureAdmin } from '../src/users/users.use-cases.ts';

export const adminCredentials = {
  email: 'root@sidecart.test',
  password: 'root-password-for-tests',
};

export function generatePrivateKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

export interface AuthUnderTest {
  url: string;
  databaseUrl: string;
  orm: MikroORM;
  key: SigningKey;
  privateKeyPem: string;
  em(): EntityManager;
  close(): Promise<void>;
}

/** Other test files sign up dozens of users from one address; rate-limits.test.ts sets its own. */
const roomyRateLimits = {
  RATE_LIMIT_LOGIN_ADDRESS: '100000/60',
  RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS: '100000/60',
  RATE_LIMIT_LOGIN_ACCOUNT: '100000/60',
  RATE_LIMIT_REGISTER_ADDRESS: '100000/60',
  RATE_LIMIT_REGISTER_ACCOUNT: '100000/60',
  RATE_LIMIT_REFRESH_ADDRESS: '100000/60',
  RATE_LIMIT_REFRESH_TOKEN: '100000/60',
};

/**
 * The real auth app on a fresh database of the test cluster (or `databaseUrl`'s, for a second
 * replica), served on a free port.
 */
export async function startAuth(
  env: Record<string, string> = {},
  {
    databaseUrl,
    privateKeyPem = generatePrivateKeyPem(),
  }: { databaseUrl?: string; privateKeyPem?: string } = {},
): Promise<AuthUnderTest> {
  const config = loadAuthConfig({
    DATABASE_URL: databaseUrl ?? (await createTestDatabase('auth')),
    AUTH_PRIVATE_KEY: privateKeyPem,
    ...roomyRateLimits,
    ...env,
  });
  const logger = silentLogger();
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  await migrate(orm);
  await ensureAdmin(
    orm.em.fork() as EntityManager,
    adminCredentials.email,
    adminCredentials.password,
    logger,
  );
  const key = loadSigningKey({ pem: privateKeyPem });
  const server = await listen(buildApp({ config, orm, logger, key }).app);
  return {
    url: server.url,
    databaseUrl: config.DATABASE_URL,
    orm,
    key,
    privateKeyPem,
    em: () => orm.em.fork() as EntityManager,
    async close() {
      await server.close();
      await orm.close();
    },
  };
}

let counter = 0;
/** A user that no other test uses. */
export function newUser(overrides: Record<string, unknown> = {}) {
  counter += 1;
  return {
    email: `user${counter}-${Date.now()}@example.test`,
    password: 'correct horse battery',
    name: `User ${counter}`,
    ...overrides,
  };
}

/** Registers and logs in a fresh user; returns its tokens and id. */
export async function signUp(base: string, overrides: Record<string, unknown> = {}) {
  const user = newUser(overrides);
  const registered = await call(base, 'POST', '/api/auth/register', { body: user });
  if (registered.status !== 201)
    throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
  const login = await call(base, 'POST', '/api/auth/login', {
    body: { email: user.email, password: user.password },
  });
  return {
    ...user,
    id: registered.body.id as string,
    ...(login.body as { accessToken: string; refreshToken: string }),
  };
}

export const logInAsAdmin = (base: string) =>
  call<{ accessToken: string; refreshToken: string }>(base, 'POST', '/api/auth/login', {
    body: adminCredentials,
  });
