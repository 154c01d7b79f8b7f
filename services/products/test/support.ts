import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import jwt from 'jsonwebtoken';
import { createTokenVerifier, migrate, unknownKey, type MikroORM } from '@sidecart/chassis';
import { call, createTestDatabase, listen, silentLogger } from '@sidecart/chassis/testing';
import { buildApp } from '../src/app.ts';
import { loadProductsConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db.ts';
import { startProductCache, type ProductCache } from '../src/products/product-cache.ts';

export { call };

/** The sidecar's token, as the tests' stand-in for Dapr sends it on internal calls. */
export const appApiToken = 'app-token-for-products-tests';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = 'products-test-key';
const settings = { issuer: 'sidecart-auth', audience: 'sidecart' };

export type Role = 'customer' | 'seller' | 'admin';
export interface TestUser {
  id: string;
  roles: Role[];
  token: string;
}

/** An access token as auth would issue it, signed with the key the app under test trusts. */
export function userWith(...roles: Role[]): TestUser {
  const id = randomUUID();
  const token = jwt.sign({ roles }, keys.privateKey, {
    algorithm: 'RS256',
    keyid: kid,
    subject: id,
    expiresIn: 900,
    ...settings,
  });
  return { id, roles, token };
}

export interface ProductsUnderTest {
  url: string;
  orm: MikroORM;
  databaseUrl: string;
  cache: ProductCache;
  em(): EntityManager;
  close(): Promise<void>;
}

/** The real products app on a fresh (or the given) database of the test cluster, on a free port. */
export async function startProducts(
  options: { databaseUrl?: string; env?: Record<string, string> } = {},
): Promise<ProductsUnderTest> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase('products'));
  const config = loadProductsConfig({
    DATABASE_URL: databaseUrl,
    APP_API_TOKEN: appApiToken,
    // Tests write in bursts; rate-limits.test.ts sets a small limit of its own.
    RATE_LIMIT_PRODUCT_WRITES: '1000000/60',
    ...options.env,
  });
  const logger = silentLogger();
  const orm = await connectDatabase(databaseUrl, logger);
  await migrate(orm);
  const verify = createTokenVerifier({
    ...settings,
    resolveKey: async (id) => {
      if (id !== kid) throw unknownKey(id);
      return keys.publicKey;
    },
  });
  const cache = startProductCache({
    databaseUrl,
    maxEntries: config.PRODUCT_CACHE_ENTRIES,
    logger,
  });
  const server = await listen(buildApp({ config, orm, logger, verify, cache }).app);
  return {
    url: server.url,
    orm,
    databaseUrl,
    cache,
    em: () => orm.em.fork() as EntityManager,
    async close() {
      await server.close();
      await cache.close();
      await orm.close();
    },
  };
}

let counter = 0;
/** A valid new product body that no other test uses. */
export function newProduct(overrides: Record<string, unknown> = {}) {
  counter += 1;
  return {
    sku: `SKU-${counter}-${Date.now()}`,
    name: `Product ${counter}`,
    description: 'A product for tests',
    priceCents: 1999,
    currency: 'EUR',
    stock: 10,
    status: 'active',
    ...overrides,
  };
}

/** Creates a product as `seller` through the API; returns its body. */
export async function createProduct(
  base: string,
  seller: TestUser,
  overrides: Record<string, unknown> = {},
) {
  const response = await call(base, 'POST', '/api/products', {
    token: seller.token,
    body: newProduct(overrides),
  });
  if (response.status !== 201) throw new Error(`create failed: ${JSON.stringify(response.body)}`);
  return response.body as { id: string; version: number; stock: number; [key: string]: unknown };
}

/** An internal call as the sidecar delivers it for `callerAppId`. */
export const internal = (base: string, path: string, body: unknown, callerAppId = 'orders') =>
  call(base, 'POST', path, {
    body,
    headers: { 'dapr-api-token': appApiToken, 'dapr-caller-app-id': callerAppId },
  });
