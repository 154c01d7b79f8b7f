import { hostileIds, seededRandom } from '@sidecart/chassis/testing';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Order } from '../src/orders/order.entity.ts';
import { reservationsAsked } from './fake-sidecar.ts';
import {
  call,
  newAdmin,
  newCustomer,
  startOrders,
  tokenFor,
  type OrdersUnderTest,
  type TestUser,
} from './support.ts';

let orders: OrdersUnderTest;
let owner: TestUser;
let admin: TestUser;
let orderId: string;
let version: number;
let cartEtag: string;
beforeAll(async () => {
  orders = await startOrders();
  owner = newCustomer();
  admin = newAdmin();
  const product = orders.sidecar.addProduct({ stock: 100 });
  const placed = await call(orders.url, 'POST', '/api/orders', {
    token: owner.token,
    body: { items: [{ productId: product.id, quantity: 1 }] },
  });
  orderId = placed.body.id;
  version = placed.body.version;
  const cart = await call(orders.url, 'PUT', '/api/cart', {
    token: owner.token,
    body: { items: [{ productId: product.id, quantity: 2 }] },
    headers: { 'if-none-match': '*' },
  });
  cartEtag = cart.headers.get('etag')!;
});
afterAll(() => orders.close());

/** Everything a request could change: orders, the owner's order and cart. */
async function snapshot() {
  const order = await orders.em().findOneOrFail(Order, { id: orderId });
  return {
    orders: await orders.em().count(Order, {}),
    order: [order.status, order.version],
    cart: orders.sidecar.state.get(`cart-${owner.id}`)?.etag,
    stockCalls: reservationsAsked(orders.sidecar.products).length,
  };
}

const nasty = [
  "' OR '1'='1",
  '{"$gt": ""}',
  '\u0000',
  '\ud800',
  '💥'.repeat(300),
  'a'.repeat(70_000),
];

function hostileValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 8);
  if (depth > 2) return nasty[pick % nasty.length];
  switch (pick) {
    case 0:
      return nasty[Math.floor(next() * nasty.length)];
    case 1:
      return Math.floor(next() * 2 ** 53) * (next() > 0.5 ? -1 : 1);
    case 2:
      return null;
    case 3:
      return [
        hostileValue(next, depth + 1),
        { productId: hostileValue(next, depth + 1), quantity: hostileValue(next, depth + 1) },
      ];
    case 4:
      return { $ne: null, __proto__: { admin: true }, nested: hostileValue(next, depth + 1) };
    case 5:
      return Array.from({ length: 101 }, () => ({ productId: crypto.randomUUID(), quantity: 1 }));
    case 6:
      return 1e308 * 10;
    default:
      return next() > 0.5;
  }
}

const hostileBody = (next: () => number) =>
  Object.fromEntries(
    ['items', 'status', 'userId', 'total', 'version']
      .filter(() => next() > 0.4)
      .map((field) => [field, hostileValue(next)]),
  );

describe('hostile bodies', () => {
  const routes = (): {
    method: string;
    path: string;
    token: string;
    headers: Record<string, string>;
  }[] => [
    {
      method: 'POST',
      path: '/api/orders',
      token: owner.token,
      headers: { 'idempotency-key': 'h' },
    },
    {
      method: 'PATCH',
      path: `/api/orders/${orderId}`,
      token: admin.token,
      headers: { 'if-match': `"${version}"` },
    },
    { method: 'PUT', path: '/api/cart', token: owner.token, headers: { 'if-match': cartEtag } },
  ];

  test.each([0, 1, 2])(
    'route %i: 60 seeded hostile bodies → only 4xx, and nothing changes',
    async (index) => {
      const route = routes()[index]!;
      const next = seededRandom(index * 7919 + 1);
      const before = await snapshot();
      const statuses: number[] = [];

      for (let i = 0; i < 60; i += 1) {
        const response = await call(orders.url, route.method, route.path, {
          body: hostileBody(next),
          token: route.token,
          headers: route.headers,
        });
        statuses.push(response.status);
      }

      expect(statuses.filter((status) => status < 400 || status >= 500)).toEqual([]);
      expect(await snapshot()).toEqual(before);
    },
  );
});

describe('authorization matrix', () => {
  test('every orders and cart endpoint: anonymous 401, a forged token 401, a stranger sees and changes nothing', async () => {
    const stranger = newCustomer();
    const before = await snapshot();
    const requests = (token?: string) => [
      call(orders.url, 'GET', `/api/orders/${orderId}`, { token }),
      call(orders.url, 'PATCH', `/api/orders/${orderId}`, {
        token,
        body: { status: 'cancelled' },
        headers: { 'if-match': `"${version}"` },
      }),
      call(orders.url, 'DELETE', `/api/orders/${orderId}`, { token }),
      call(orders.url, 'GET', `/api/orders?userId=${owner.id}`, { token }),
      call(orders.url, 'GET', '/api/cart', { token }),
      call(orders.url, 'POST', '/api/orders', { token, body: { items: [] } }),
      call(orders.url, 'PUT', '/api/cart', {
        token,
        body: { items: [] },
        headers: { 'if-none-match': '*' },
      }),
      call(orders.url, 'DELETE', '/api/cart', { token }),
      call(orders.url, 'POST', '/api/cart/checkout', { token }),
    ];
    const forged = tokenFor({ id: owner.id, roles: ['admin'] }).replace(/.{8}$/, 'AAAAAAAA');

    const anonymous = await Promise.all(requests());
    const withForged = await Promise.all(requests(forged));
    const byStranger = await Promise.all(requests(stranger.token));

    expect(anonymous.map((r) => r.status)).toEqual(anonymous.map(() => 401));
    expect(withForged.map((r) => r.status)).toEqual(withForged.map(() => 401));
    expect(byStranger.slice(0, 4).map((r) => r.status)).toEqual([404, 404, 404, 403]);
    // The stranger's own cart: empty, never the owner's.
    expect(byStranger[4]!.body).toEqual({ items: [] });
    expect(await snapshot()).toEqual(before);
  });

  test('a customer cannot ship; an admin can see any order and list everyone’s', async () => {
    const ship = await call(orders.url, 'PATCH', `/api/orders/${orderId}`, {
      token: owner.token,
      body: { status: 'shipped' },
      headers: { 'if-match': `"${version}"` },
    });
    const seen = await call(orders.url, 'GET', `/api/orders/${orderId}`, { token: admin.token });
    const listed = await call(orders.url, 'GET', `/api/orders?userId=${owner.id}`, {
      token: admin.token,
    });

    expect([ship.status, seen.status, listed.status]).toEqual([403, 200, 200]);
    expect(listed.body.items.map((o: { id: string }) => o.id)).toEqual([orderId]);
  });
});

describe('hostile ids, headers and queries', () => {
  test('ids that are not UUIDs are 404, never a database error', async () => {
    const ids = hostileIds;

    const responses = await Promise.all(
      ids.map((id) =>
        call(orders.url, 'GET', `/api/orders/${encodeURIComponent(id)}`, { token: admin.token }),
      ),
    );

    expect(responses.map((r) => r.status)).toEqual(ids.map(() => 404));
  });

  test('bad queries, If-Match and Idempotency-Key values are 400s that change nothing', async () => {
    const before = await snapshot();

    const statuses = [
      (await call(orders.url, 'GET', '/api/orders?limit=0', { token: owner.token })).status,
      (await call(orders.url, 'GET', '/api/orders?status=lost', { token: owner.token })).status,
      (await call(orders.url, 'GET', '/api/orders?cursor=abc', { token: owner.token })).status,
      (await call(orders.url, 'GET', '/api/orders?$where=1', { token: owner.token })).status,
      (
        await call(orders.url, 'PATCH', `/api/orders/${orderId}`, {
          token: admin.token,
          body: { status: 'shipped' },
          headers: { 'if-match': '"1", "2"' },
        })
      ).status,
      (
        await call(orders.url, 'POST', '/api/orders', {
          token: owner.token,
          body: { items: [] },
          headers: { 'idempotency-key': 'spaces are not allowed' },
        })
      ).status,
      (
        await call(orders.url, 'PUT', '/api/cart', {
          token: owner.token,
          body: { items: [] },
          headers: { 'if-match': '"' + 'x'.repeat(500) + '"' },
        })
      ).status,
    ];

    expect(statuses).toEqual([400, 400, 400, 400, 400, 400, 400]);
    expect(await snapshot()).toEqual(before);
  });
});
