import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { createLogger } from '@sidecart/chassis';
import { componentsDir, daprConfiguration } from '@sidecart/dev/dapr-runtime';
import { waitUntil } from '@sidecart/dev/processes';
import { startSidecar, type RunningSidecar } from '@sidecart/dev/sidecar';
import pg from 'pg';
import { e2eSidecar, startStack, type RunningStack } from './stack.ts';

// Whole stacks start here (a project's own testTimeout is ignored when several projects run).
jest.setTimeout(180_000);

// products on the real local stack: two replicas behind the ingress, each beside its dev sidecar,
// tokens verified with auth's JWKS fetched through Dapr, reservations invoked through Dapr by a
// caller that is app id `orders` (a sidecar started here, as orders' pod would have).

/**
 * The token the stack's sidecars call each other with (only sidecars hold it, so no app can pose
 * as one): read from a running sidecar's environment, to join this caller to the stack.
 */
function sidecarInternalToken(stack: RunningStack): string | undefined {
  const pid = stack.current().services.products!.replicas[0]!.sidecarPid;
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return environ.find((entry) => entry.startsWith('SIDECAR_INTERNAL_TOKEN='))?.split('=')[1];
}

describe('products through the local stack (npm start)', () => {
  let stack: RunningStack;
  let orders: RunningSidecar;
  let db: pg.Client;
  let sellerToken: string;

  const api = (
    path: string,
    init: {
      method?: string;
      body?: unknown;
      token?: string;
      headers?: Record<string, string>;
    } = {},
  ) =>
    fetch(`${stack.baseUrl}/api/products${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const invoke = (method: string, body: unknown) =>
    fetch(`${orders.url}/v1.0/invoke/products/method/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const create = async (body: Record<string, unknown>) => {
    const response = await api('', {
      token: sellerToken,
      body: {
        sku: randomUUID(),
        name: 'E2E product',
        priceCents: 1000,
        currency: 'EUR',
        status: 'active',
        ...body,
      },
    });
    const created = (await response.json()) as { id: string };
    expect([response.status, created]).toEqual([
      201,
      expect.objectContaining({ id: expect.any(String) }),
    ]);
    return created;
  };
  const stockOf = async (id: string) =>
    (await db.query<{ stock: number }>('select stock from products where id = $1', [id])).rows[0]!
      .stock;

  // These call products from a dev sidecar of their own, which finds the replicas through the
  // dev sidecars' registry: beside daprd (SQLite name resolution) it finds none. Beside daprd,
  // orders.test.ts covers reservations through Dapr (the flash sale).
  const testThroughDevSidecar = e2eSidecar === 'daprd' ? test.skip : test;

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, services: ['auth', 'products'] });
    const postgres = stack.stack.postgres!;
    const url = (name: string) =>
      `postgres://postgres:sidecart-local-dev@127.0.0.1:${postgres.port}/${name}`;
    db = new pg.Client({ connectionString: url('products') });
    await db.connect();
    const options = {
      appId: 'orders',
      namespace: 'sidecart',
      httpPort: 0,
      internalPort: 0,
      resourcesPaths: [componentsDir],
      configuration: daprConfiguration,
      secretsFile: path.join(stack.dataDir, 'keys', 'dapr-secrets.json'),
      databaseUrl: url('dapr'),
      log: createLogger('orders-sidecar', 'silent'),
      internalToken: sidecarInternalToken(stack),
    };
    orders = await startSidecar(options);
    const seller = {
      email: `seller-${Date.now()}@example.test`,
      password: 'correct horse battery',
      name: 'Seller',
    };
    const auth = (route: string, body: unknown) =>
      fetch(`${stack.baseUrl}/api/auth/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await auth('register', { ...seller, accountType: 'seller' })).status).toBe(201);
    const login = await auth('login', { email: seller.email, password: seller.password });
    sellerToken = ((await login.json()) as { accessToken: string }).accessToken;
    expect([login.status, typeof sellerToken]).toEqual([200, 'string']);
  });

  afterAll(async () => {
    await db?.end();
    await orders?.close();
    const result = await stack?.stop();
    expect(result?.alivePids ?? []).toEqual([]);
  });

  test('a fresh stack has the demo catalog to browse, anonymously', async () => {
    const response = await api('?limit=100');

    expect(response.status).toBe(200);
    const { items } = (await response.json()) as { items: { name: string; status: string }[] };
    const demo = items.filter((item) => item.name.endsWith('(demo)'));
    expect(demo).toHaveLength(20);
    expect(demo.every((item) => item.status === 'active')).toBe(true);
  });

  test('20 clients PATCH one product with one ETag across both replicas: one wins, 19 get 412', async () => {
    const { id } = await create({});

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api(`/${id}`, {
          method: 'PATCH',
          token: sellerToken,
          body: { name: `Writer ${i}` },
          headers: { 'if-match': '"1"' },
        }),
      ),
    );

    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, ...Array(19).fill(412)]);
    const winner = (await responses.find((response) => response.status === 200)!.json()) as {
      name: string;
    };
    const { rows } = await db.query('select name, version from products where id = $1', [id]);
    expect(rows[0]).toEqual({ name: winner.name, version: 2 });
    // Every replica serves the winner within the second its cache may lag.
    expect(
      await waitUntil(async () => {
        const reads = await Promise.all([api(`/${id}`), api(`/${id}`)]);
        const names = await Promise.all(
          reads.map(async (read) => ((await read.json()) as { name: string }).name),
        );
        return names.every((name) => name === winner.name);
      }, 1000),
    ).toBe(true);
  });

  testThroughDevSidecar(
    '200 reservations of 1 against a stock of 50, through Dapr over both replicas: exactly 50',
    async () => {
      const { id } = await create({ stock: 50 });

      const answers = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const response = await invoke('internal/reservations', {
            orderId: randomUUID(),
            lines: [{ productId: id, quantity: 1 }],
          });
          return `${response.status} ${((await response.json()) as { status: string }).status}`;
        }),
      );

      expect(answers.filter((answer) => answer === '200 reserved')).toHaveLength(50);
      expect(answers.filter((answer) => answer === '200 rejected')).toHaveLength(150);
      expect(await stockOf(id)).toBe(0);
      const served = await Promise.all(
        stack.current().services.products!.replicas.map(async (replica) => {
          const metrics = await (await fetch(`http://127.0.0.1:${replica.appPort}/metrics`)).text();
          const line = metrics
            .split('\n')
            .find(
              (text) =>
                text.startsWith('http_requests_total') &&
                text.includes('route="/internal/reservations"'),
            );
          return Number(line?.split(' ').at(-1) ?? 0);
        }),
      );
      expect(served.every((count) => count > 0)).toBe(true);
    },
  );

  testThroughDevSidecar(
    'one order retried 10 times at once reserves once; releasing it twice restores once',
    async () => {
      const { id } = await create({ stock: 10 });
      const orderId = randomUUID();

      const reserves = await Promise.all(
        Array.from({ length: 10 }, () =>
          invoke('internal/reservations', { orderId, lines: [{ productId: id, quantity: 4 }] }),
        ),
      );
      const afterReserve = await stockOf(id);
      const releases = [];
      for (let i = 0; i < 2; i += 1) {
        const response = await invoke(`internal/reservations/${orderId}/release`, {});
        releases.push(((await response.json()) as { status: string }).status);
      }

      expect(reserves.map((response) => response.status)).toEqual(Array(10).fill(200));
      expect(afterReserve).toBe(6);
      expect(releases).toEqual(['released', 'already-released']);
      expect(await stockOf(id)).toBe(10);
    },
  );

  test('internal routes are not reachable through the ingress', async () => {
    const response = await fetch(`${stack.baseUrl}/internal/reservations`, { method: 'POST' });

    expect(response.status).toBe(404);
  });
});
