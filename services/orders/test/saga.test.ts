import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { OutboxEvent } from '@sidecart/chassis';
import { silentLogger } from '@sidecart/chassis/testing';
import { startSweeper } from '../src/orders/sweeper.ts';
import { IdempotencyRecord } from '../src/orders/idempotency-record.entity.ts';
import { Order } from '../src/orders/order.entity.ts';
import { reservationsAsked } from './fake-sidecar.ts';
import { call, newCustomer, startOrders, type OrdersUnderTest } from './support.ts';

// One app per describe: the breaker's state carries over between requests.

const place = (o: OrdersUnderTest, token: string, items: unknown, key?: string) =>
  call(o.url, 'POST', '/api/orders', {
    token,
    body: { items },
    headers: key ? { 'idempotency-key': key } : {},
  });

/** Makes every pending order due for the sweeper now. */
const makeDue = (o: OrdersUnderTest) =>
  o.em().nativeUpdate(Order, { status: 'pending' }, { sweepAt: new Date(Date.now() - 1) });

describe('while products hangs', () => {
  let orders: OrdersUnderTest;
  beforeAll(async () => {
    orders = await startOrders({ BREAKER_RESET_MS: '60000' });
  });
  afterAll(() => orders.close());

  test('concurrent orders each time out and count for the breaker, even when they share a call', async () => {
    const product = orders.sidecar.addProduct({ stock: 50 });
    const items = [{ productId: product.id, quantity: 1 }];
    orders.sidecar.products.mode = 'hang';

    const replies = await Promise.all(
      Array.from({ length: 6 }, () => place(orders, newCustomer().token, items)),
    );
    const metrics = await call(orders.url, 'GET', '/metrics');

    expect(replies.map((reply) => reply.status)).toEqual(Array(6).fill(503));
    expect(replies.map((reply) => reply.body.code)).toEqual(Array(6).fill('products-unavailable'));
    expect(metrics.body).toContain(
      'circuit_breaker_state{name="products:internal/reservations",state="open",service="orders"} 1',
    );
    // A request that came after the breaker opened was refused before storing anything; every
    // other one is pending, its reservation asked of products once.
    const pending = await orders.em().find(Order, { status: 'pending' });
    expect(pending.length).toBeGreaterThanOrEqual(5);
    const asked = reservationsAsked(orders.sidecar.products).map((one) => one.orderId);
    expect(asked.sort()).toEqual(pending.map((order) => order.id).sort());
  });
});

describe('while products is unreachable', () => {
  let orders: OrdersUnderTest;
  beforeAll(async () => {
    orders = await startOrders({ BREAKER_RESET_MS: '60000' });
  });
  afterAll(() => orders.close());

  test('answers 503 with Retry-After and keeps the order pending for the sweeper', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 5 });
    orders.sidecar.products.mode = 'down';

    const response = await place(orders, customer.token, [{ productId: product.id, quantity: 2 }]);

    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(response.body.code).toBe('products-unavailable');
    const [order] = await orders.em().find(Order, { userId: customer.id });
    expect(order!.status).toBe('pending');

    orders.sidecar.products.mode = 'up';
    await makeDue(orders);
    await orders.sweeper.sweep();

    const settled = await orders.em().findOneOrFail(Order, { id: order!.id });
    expect(settled.status).toBe('confirmed');
    expect(product.stock).toBe(3);
  });

  test('a call that times out is a 503 too; a retry with its key settles the same order', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 5 });
    const items = [{ productId: product.id, quantity: 1 }];
    orders.sidecar.products.mode = 'hang';

    const first = await place(orders, customer.token, items, 'retry-me');
    orders.sidecar.products.mode = 'up';
    // Older than the first request's deadline: the repeat settles it instead of waiting.
    await orders.em().nativeUpdate(Order, { userId: customer.id }, { createdAt: new Date(0) });
    const retry = await place(orders, customer.token, items, 'retry-me');

    expect([first.status, retry.status]).toEqual([503, 201]);
    expect(await orders.em().count(Order, { userId: customer.id })).toBe(1);
    expect(product.stock).toBe(4);
  });

  test('after 5 failures the breaker opens: 503 at once, no call to products, no order stored', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 5 });
    const items = [{ productId: product.id, quantity: 1 }];
    orders.sidecar.products.mode = 'down';
    for (let i = 0; i < 5; i += 1) await place(orders, customer.token, items);
    const calls = orders.sidecar.products.calls.length;
    const stored = await orders.em().count(Order, { userId: customer.id });

    const refused = await place(orders, customer.token, items);
    const metrics = await call(orders.url, 'GET', '/metrics');

    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(orders.sidecar.products.calls.length).toBe(calls);
    expect(await orders.em().count(Order, { userId: customer.id })).toBe(stored);
    expect(metrics.body).toContain(
      'circuit_breaker_state{name="products:internal/reservations",state="open",service="orders"} 1',
    );
  });

  test('the sweeper fails an order it cannot settle within its maximum age, with order-failed', async () => {
    const customer = newCustomer();
    const order = orders.em().create(Order, {
      userId: customer.id,
      lines: [{ productId: orders.sidecar.addProduct().id, quantity: 1 }],
      sweepAt: new Date(0),
      createdAt: new Date(Date.now() - 31_000),
    });
    await orders.em().persist(order).flush();
    orders.sidecar.products.mode = 'down';

    await orders.sweeper.sweep();

    const failed = await orders.em().findOneOrFail(Order, { id: order.id });
    expect([failed.status, failed.reason]).toEqual(['failed', 'reservation-timed-out']);
    const events = (await orders.em().find(OutboxEvent, { topic: 'order-failed' })).filter(
      (row) => (row.data as { orderId: string }).orderId === order.id,
    );
    expect(events).toHaveLength(1);
  });
});

describe('the sweeper', () => {
  let orders: OrdersUnderTest;
  beforeAll(async () => {
    orders = await startOrders();
  });
  afterAll(() => orders.close());

  test('two sweepers at once settle each due order once', async () => {
    const product = orders.sidecar.addProduct({ stock: 100 });
    const customer = newCustomer();
    const em = orders.em();
    for (let i = 0; i < 30; i += 1) {
      em.create(Order, {
        userId: customer.id,
        lines: [{ productId: product.id, quantity: 1 }],
        sweepAt: new Date(0),
      });
    }
    await em.flush();

    // A second replica's sweeper, on its own connections.
    const other = startSweeper({
      orm: orders.orm,
      products: orders.products,
      logger: silentLogger(),
      intervalMs: 3_600_000,
      leaseMs: 60_000,
      maxAgeMs: 60_000,
      batchSize: 5,
    });
    const counts = await Promise.all([orders.sweeper.sweep(), other.sweep(), other.sweep()]);
    await other.stop();

    // Each sweep claimed a disjoint batch; whatever is left is still due, never settled twice.
    const settled = await orders.em().count(Order, { userId: customer.id, status: 'confirmed' });
    expect(counts.reduce((a, b) => a + b, 0)).toBe(settled);
    expect(counts[1]! + counts[2]!).toBe(10);
    expect(product.stock).toBe(100 - settled);
    const confirmed = (await orders.em().find(OutboxEvent, { topic: 'order-confirmed' })).filter(
      (row) => (row.data as { userId: string }).userId === customer.id,
    );
    expect(confirmed).toHaveLength(settled);
  });

  test('an order it settles gets its idempotency answer, for the retry of a 503', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 5 });
    orders.sidecar.products.mode = 'hang';
    const first = await place(
      orders,
      customer.token,
      [{ productId: product.id, quantity: 1 }],
      'k',
    );
    expect(first.status).toBe(503);
    orders.sidecar.products.mode = 'up';
    await makeDue(orders);

    await orders.sweeper.sweep();

    const record = await orders
      .em()
      .findOneOrFail(IdempotencyRecord, { userId: customer.id, key: 'k' });
    expect(record.answer?.status).toBe(201);
  });
});
