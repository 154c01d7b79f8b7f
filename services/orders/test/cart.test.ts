import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Order } from '../src/orders/order.entity.ts';
import { call, newCustomer, startOrders, type OrdersUnderTest, type TestUser } from './support.ts';

let orders: OrdersUnderTest;
beforeAll(async () => {
  orders = await startOrders();
});
afterAll(() => orders.close());

const put = (user: TestUser, items: unknown, headers: Record<string, string>) =>
  call(orders.url, 'PUT', '/api/cart', { token: user.token, body: { items }, headers });

async function cartWith(user: TestUser, items: { productId: string; quantity: number }[]) {
  const response = await put(user, items, { 'if-none-match': '*' });
  expect(response.status).toBe(200);
  return response.headers.get('etag')!;
}

describe('GET /api/cart', () => {
  test('a new customer has an empty cart and no ETag', async () => {
    const response = await call(orders.url, 'GET', '/api/cart', { token: newCustomer().token });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ items: [] });
    expect(response.headers.get('etag')).toBeNull();
  });

  test('lines carry current product data and flag gone, unavailable and short products', async () => {
    const user = newCustomer();
    const fine = orders.sidecar.addProduct({ name: 'Tea', priceCents: 450, stock: 9 });
    const short = orders.sidecar.addProduct({ stock: 1 });
    const archived = orders.sidecar.addProduct({ status: 'archived' });
    const gone = '0192f1e4-7f6a-7cc0-8a47-8e5b2d3c4f50';
    const etag = await cartWith(user, [
      { productId: fine.id, quantity: 2 },
      { productId: short.id, quantity: 2 },
      { productId: archived.id, quantity: 1 },
      { productId: gone, quantity: 1 },
    ]);
    fine.priceCents = 500;

    const response = await call(orders.url, 'GET', '/api/cart', { token: user.token });

    expect(response.headers.get('etag')).toBe(etag);
    expect(response.body.items).toEqual([
      expect.objectContaining({
        productId: fine.id,
        quantity: 2,
        name: 'Tea',
        unitPrice: { cents: 500, currency: 'EUR' },
        problem: null,
      }),
      expect.objectContaining({ productId: short.id, stock: 1, problem: 'short' }),
      expect.objectContaining({ productId: archived.id, problem: 'unavailable' }),
      { productId: gone, quantity: 1, problem: 'gone' },
    ]);
  });

  test('while products cannot be reached, the answer is a 503 without the cart ETag', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 5 });
    const etag = await cartWith(user, [{ productId: product.id, quantity: 1 }]);
    orders.sidecar.products.mode = 'down';
    try {
      const response = await call(orders.url, 'GET', '/api/cart', { token: user.token });

      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ code: 'products-unavailable' });
      // An ETag on an error would tell a client it holds the cart's representation.
      expect(response.headers.get('etag')).toBeNull();
    } finally {
      orders.sidecar.products.mode = 'up';
    }
    const again = await call(orders.url, 'GET', '/api/cart', { token: user.token });
    expect(again.headers.get('etag')).toBe(etag);
  });
});

describe('PUT /api/cart', () => {
  test('without If-Match or If-None-Match: 428, and nothing is stored', async () => {
    const user = newCustomer();

    const response = await put(user, [], {});

    expect(response.status).toBe(428);
    expect(orders.sidecar.state.has(`cart-${user.id}`)).toBe(false);
  });

  test('If-None-Match: * creates the first cart only once; a second create is 412', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct();

    const first = await put(user, [{ productId: product.id, quantity: 1 }], {
      'if-none-match': '*',
    });
    const second = await put(user, [{ productId: product.id, quantity: 5 }], {
      'if-none-match': '*',
    });

    expect([first.status, second.status]).toEqual([200, 412]);
    expect(second.body.code).toBe('cart-changed');
    expect(orders.sidecar.state.get(`cart-${user.id}`)?.value).toMatchObject({
      items: [{ productId: product.id, quantity: 1 }],
    });
  });

  test('two clients with the same ETag: one wins, the other gets 412', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct();
    const etag = await cartWith(user, [{ productId: product.id, quantity: 1 }]);

    const responses = await Promise.all(
      [2, 3].map((quantity) =>
        put(user, [{ productId: product.id, quantity }], { 'if-match': etag }),
      ),
    );

    expect(responses.map((r) => r.status).sort()).toEqual([200, 412]);
    const winner = responses.find((r) => r.status === 200)!;
    const stored = await call(orders.url, 'GET', '/api/cart', { token: user.token });
    expect(stored.body.items[0].quantity).toBe(winner.body.items[0].quantity);
    expect(stored.headers.get('etag')).toBe(winner.headers.get('etag'));
  });

  test('a malformed precondition or body is a 400 and changes nothing', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct();
    const etag = await cartWith(user, [{ productId: product.id, quantity: 1 }]);

    const statuses = [
      (await put(user, [], { 'if-match': 'no-quotes' })).status,
      (await put(user, [], { 'if-none-match': '"x"' })).status,
      (await put(user, [], { 'if-match': etag, 'if-none-match': '*' })).status,
      (await put(user, [{ productId: product.id, quantity: -1 }], { 'if-match': etag })).status,
    ];

    expect(statuses).toEqual([400, 400, 400, 400]);
    const stored = await call(orders.url, 'GET', '/api/cart', { token: user.token });
    expect(stored.headers.get('etag')).toBe(etag);
  });
});

describe('POST /api/cart/checkout', () => {
  test('places the order from the cart and empties it; its key replays the answer', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 4, priceCents: 300 });
    await cartWith(user, [{ productId: product.id, quantity: 3 }]);
    const checkout = () =>
      call(orders.url, 'POST', '/api/cart/checkout', {
        token: user.token,
        headers: { 'idempotency-key': 'checkout-1' },
      });

    const first = await checkout();
    const repeat = await checkout();

    expect([first.status, repeat.status]).toEqual([201, 201]);
    expect(repeat.body).toEqual(first.body);
    expect(first.body).toMatchObject({
      status: 'confirmed',
      total: { cents: 900, currency: 'EUR' },
    });
    expect(product.stock).toBe(1);
    expect(orders.sidecar.state.has(`cart-${user.id}`)).toBe(false);
    expect(await orders.em().count(Order, { userId: user.id })).toBe(1);
  });

  test('an empty cart is a 409 and places nothing', async () => {
    const user = newCustomer();

    const response = await call(orders.url, 'POST', '/api/cart/checkout', { token: user.token });

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('cart-empty');
    expect(await orders.em().count(Order, { userId: user.id })).toBe(0);
  });

  test('a rejected checkout keeps the cart', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 1 });
    await cartWith(user, [{ productId: product.id, quantity: 2 }]);

    const response = await call(orders.url, 'POST', '/api/cart/checkout', { token: user.token });

    expect(response.status).toBe(409);
    expect(orders.sidecar.state.has(`cart-${user.id}`)).toBe(true);
  });
});

describe('DELETE /api/cart', () => {
  test('drops the cart; with a stale If-Match it is 412 and the cart stays', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct();
    const etag = await cartWith(user, [{ productId: product.id, quantity: 1 }]);
    await put(user, [{ productId: product.id, quantity: 2 }], { 'if-match': etag });

    const stale = await call(orders.url, 'DELETE', '/api/cart', {
      token: user.token,
      headers: { 'if-match': etag },
    });
    const dropped = await call(orders.url, 'DELETE', '/api/cart', { token: user.token });

    expect([stale.status, dropped.status]).toEqual([412, 204]);
    expect(orders.sidecar.state.has(`cart-${user.id}`)).toBe(false);
  });
});
