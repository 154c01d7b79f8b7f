import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createDaprClient, migrate, unknownKey, type MikroORM } from '@sidecart/chassis';
import { call, createTestDatabase, listen, silentLogger } from '@sidecart/chassis/testing';
import jwt from 'jsonwebtoken';
import { buildApp } from '../src/app.ts';
import { daprCartStore } from '../src/cart/cart.store.ts';
import { createProductsClient, type ProductsClient } from '../src/clients/products.client.ts';
import { loadOrdersConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db.ts';
import { startSweeper, type Sweeper } from '../src/orders/sweeper.ts';
import { startFakeSidecar, type FakeSidecar } from './fake-sidecar.ts';

export { call };

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = 'test-key';

/** An access token as auth signs them (RS256, its issuer and audience). */
export function tokenFor(user: { id: string; roles: string[] }): string {
  return jwt.sign({ roles: user.roles }, keys.privateKey, {
    algorithm: 'RS256',
    keyid: kid,
    issuer: 'sidecart-auth',
    audience: 'sidecart',
    subject: user.id,
    expiresIn: 600,
  });
}

export interface TestUser {
  id: string;
  token: string;
}

export function newCustomer(): TestUser {
  const id = randomUUID();
  return { id, token: tokenFor({ id, roles: ['customer'] }) };
}

export function newAdmin(): TestUser {
  const id = randomUUID();
  return { id, token: tokenFor({ id, roles: ['admin'] }) };
}

export interface OrdersUnderTest {
  url: string;
  orm: MikroORM;
  sidecar: FakeSidecar;
  products: ProductsClient;
  sweeper: Sweeper;
  em(): EntityManager;
  close(): Promise<void>;
}

/** The real orders app on a fresh database, its sidecar faked at the edge, on a free port. */
export async function startOrders(env: Record<string, string> = {}): Promise<OrdersUnderTest> {
  const sidecar = await startFakeSidecar();
  const config = loadOrdersConfig({
    DATABASE_URL: await createTestDatabase('orders'),
    DAPR_HTTP_PORT: String(sidecar.port),
    PRODUCTS_TIMEOUT_MS: '500',
    BREAKER_RESET_MS: '60000',
    SWEEP_AFTER_MS: '60000',
    ...env,
  });
  const logger = silentLogger();
  const orm = await connectDatabase(config.DATABASE_URL, logger);
  await migrate(orm);
  const dapr = createDaprClient({
    host: '127.0.0.1',
    port: sidecar.port,
    timeoutMs: 2_000,
    logger,
  });
  const products = createProductsClient({
    dapr,
    appId: 'products',
    timeoutMs: config.PRODUCTS_TIMEOUT_MS,
    resetMs: config.BREAKER_RESET_MS,
    reserveCallsInFlight: config.RESERVE_CALLS_IN_FLIGHT,
  });
  const carts = daprCartStore(dapr, 'statestore');
  // The adapter loads the Dapr SDK on its first call: do that here, not inside the products
  // breaker's 500 ms deadline of a test's first order, which a busy machine can miss.
  await dapr.getState('statestore', 'warm-up');
  const resolveKey = async (keyId: string) => {
    if (keyId !== kid) throw unknownKey(keyId);
    return keys.publicKey;
  };
  // Driven by the tests (sweep()), not by its timer.
  const sweeper = startSweeper({
    orm,
    products,
    logger,
    intervalMs: 3_600_000,
    leaseMs: 1_000,
    maxAgeMs: config.PENDING_MAX_AGE_MS,
  });
  const { app } = buildApp({ config, orm, logger, products, carts, resolveKey });
  const server = await listen(app);
  return {
    url: server.url,
    orm,
    sidecar,
    products,
    sweeper,
    em: () => orm.em.fork() as EntityManager,
    async close() {
      await server.close();
      await sweeper.stop();
      products.shutdown();
      await sidecar.close();
      await orm.close();
    },
  };
}
