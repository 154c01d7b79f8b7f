import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Order } from '../src/orders/order.entity.ts';
import { call, newCustomer, startOrders, type OrdersUnderTest } from './support.ts';

let orders: OrdersUnderTest;
beforeAll(async () => {
  orders = await startOrders({ RATE_LIMIT_PLACE_ORDER: '2/60' });
});
afterAll(() => orders.close());

describe('placing orders is rate limited per user', () => {
  test('past the limit: 429 with Retry-After, nothing stored; another user is unaffected', async () => {
    const busy = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 100 });
    const place = (token: string) =>
      call(orders.url, 'POST', '/api/orders', {
        token,
        body: { items: [{ productId: product.id, quantity: 1 }] },
      });

    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push(await place(busy.token));
    const checkout = await call(orders.url, 'POST', '/api/cart/checkout', { token: busy.token });
    const other = await place(newCustomer().token);

    expect(statuses.map((r) => r.status)).toEqual([201, 201, 429]);
    expect(statuses[2]!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(checkout.status).toBe(429);
    expect(other.status).toBe(201);
    expect(await orders.em().count(Order, { userId: busy.id })).toBe(2);
    expect(product.stock).toBe(97);
  });
});
