import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { OutboxEvent, startOutboxRelay, type RelayedEvent as Event } from '@sidecart/chassis';
import { eventually, silentLogger } from '@sidecart/chassis/testing';
import { Order } from '../src/orders/order.entity.ts';
import { reservationsAsked } from './fake-sidecar.ts';
import { call, newCustomer, startOrders, type OrdersUnderTest } from './support.ts';

let orders: OrdersUnderTest;
beforeAll(async () => {
  orders = await startOrders();
});
afterAll(() => orders.close());
beforeEach(() => {
  orders.sidecar.products.mode = 'up';
});

const place = (token: string, items: unknown, headers: Record<string, string> = {}) =>
  call(orders.url, 'POST', '/api/orders', { token, body: { items }, headers });

const outbox = async (topic: string, orderId: string) =>
  (await orders.em().find(OutboxEvent, { topic })).filter(
    (row) => (row.data as { orderId: string }).orderId === orderId,
  );

describe('POST /api/orders', () => {
  test('reserves the stock and confirms the order with the price snapshot and its total', async () => {
    const customer = newCustomer();
    const a = orders.sidecar.addProduct({ priceCents: 1_999, stock: 5 });
    const b = orders.sidecar.addProduct({ priceCents: 250, stock: 5 });

    const response = await place(customer.token, [
      { productId: a.id, quantity: 2 },
      { productId: b.id, quantity: 3 },
    ]);

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      userId: customer.id,
      status: 'confirmed',
      total: { cents: 2 * 1_999 + 3 * 250, currency: 'EUR' },
      lines: [
        { productId: a.id, quantity: 2, unitPrice: { cents: 1_999, currency: 'EUR' } },
        { productId: b.id, quantity: 3, unitPrice: { cents: 250, currency: 'EUR' } },
      ],
    });
    expect(response.headers.get('location')).toBe(`/api/orders/${response.body.id}`);
    expect(response.headers.get('etag')).toBe(`"${response.body.version}"`);
    expect([a.stock, b.stock]).toEqual([3, 2]);
    const stored = await orders.em().findOneOrFail(Order, { id: response.body.id });
    expect([stored.status, stored.totalCents]).toEqual(['confirmed', 4_748]);
    const events = await outbox('order-confirmed', response.body.id);
    expect(events.map((row) => row.data)).toEqual([
      expect.objectContaining({
        total: { cents: 4_748, currency: 'EUR' },
        version: stored.version,
      }),
    ]);
  });

  test('when stock is short, responds 409 naming the short lines, and the order is rejected', async () => {
    const customer = newCustomer();
    const plenty = orders.sidecar.addProduct({ stock: 5 });
    const scarce = orders.sidecar.addProduct({ stock: 1 });

    const response = await place(customer.token, [
      { productId: plenty.id, quantity: 1 },
      { productId: scarce.id, quantity: 2 },
    ]);

    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      code: 'insufficient-stock',
      shortLines: [{ productId: scarce.id, requested: 2, available: 1 }],
    });
    expect([plenty.stock, scarce.stock]).toEqual([5, 1]);
    const stored = await orders.em().findOneOrFail(Order, { id: response.body.orderId });
    expect(stored.status).toBe('rejected');
    expect(await outbox('order-confirmed', stored.id)).toEqual([]);
  });

  test('products of two currencies in one order: 422, the order fails and products is told to release', async () => {
    const customer = newCustomer();
    const euro = orders.sidecar.addProduct({ currency: 'EUR' });
    const dollar = orders.sidecar.addProduct({ currency: 'USD' });

    const response = await place(customer.token, [
      { productId: euro.id, quantity: 1 },
      { productId: dollar.id, quantity: 1 },
    ]);

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('mixed-currencies');
    const stored = await orders.em().findOneOrFail(Order, { id: response.body.orderId });
    expect([stored.status, stored.reason]).toEqual(['failed', 'mixed-currencies']);
    expect(await outbox('order-failed', stored.id)).toHaveLength(1);
  });

  test('refuses empty, duplicated and oversized lines with 400 and stores nothing', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct();
    const before = await orders.em().count(Order, {});

    const bodies = [
      [],
      [
        { productId: product.id, quantity: 1 },
        { productId: product.id, quantity: 1 },
      ],
      [{ productId: product.id, quantity: 0 }],
      [{ productId: product.id, quantity: 1.5 }],
      [{ productId: 'not-a-uuid', quantity: 1 }],
      [{ productId: product.id, quantity: 1, priceCents: 1 }],
    ];
    const statuses = [];
    for (const items of bodies) statuses.push((await place(customer.token, items)).status);

    expect(statuses).toEqual(bodies.map(() => 400));
    expect(await orders.em().count(Order, {})).toBe(before);
    expect(product.stock).toBe(10);
  });

  test('without a token: 401', async () => {
    const response = await call(orders.url, 'POST', '/api/orders', { body: { items: [] } });

    expect(response.status).toBe(401);
  });
});

describe('orders placed while a reservation is in flight', () => {
  test('leave in one batch, and each is settled with its own answer, stock and event', async () => {
    const product = orders.sidecar.addProduct({ stock: 10, priceCents: 300 });
    const items = [{ productId: product.id, quantity: 1 }];
    const customers = Array.from({ length: 6 }, () => newCustomer());
    const callsBefore = orders.sidecar.products.calls.length;
    const counted = async () => {
      const text = (await call(orders.url, 'GET', '/metrics')).body as string;
      const read = (name: string) =>
        Number(new RegExp(`^${name}\\S* (\\d+)$`, 'm').exec(text)?.[1]);
      return {
        calls: read('orders_reserve_calls_total'),
        reservations: read('orders_reservations_total'),
      };
    };
    const before = await counted();
    let answer = () => {};
    orders.sidecar.products.gate = new Promise((resolve) => (answer = resolve));

    const first = place(customers[0]!.token, items, { 'idempotency-key': 'batch-0' });
    await eventually('the first reservation in flight', async () => {
      const [stored] = await orders.em().find(Order, { userId: customers[0]!.id });
      const asked = reservationsAsked(orders.sidecar.products);
      return stored !== undefined && asked.some((one) => one.orderId === stored.id);
    });
    const queued = customers
      .slice(1)
      .map((customer, i) => place(customer.token, items, { 'idempotency-key': `batch-${i + 1}` }));
    await eventually('the other five orders stored, waiting for the call in flight', async () => {
      const stored = await orders.em().count(Order, {
        userId: { $in: customers.map((customer) => customer.id) },
      });
      return stored === 6;
    });
    orders.sidecar.products.gate = undefined;
    answer();
    const responses = await Promise.all([first, ...queued]);

    expect(responses.map((response) => response.status)).toEqual(Array(6).fill(201));
    const orderIds = responses.map((response) => response.body.id as string);
    expect(new Set(orderIds).size).toBe(6);
    const calls = orders.sidecar.products.calls.slice(callsBefore);
    const asked = reservationsAsked({ ...orders.sidecar.products, calls });
    expect(asked.map((one) => one.orderId).sort()).toEqual([...orderIds].sort());
    expect(calls.length).toBeLessThan(6);
    const after = await counted();
    expect(after.reservations - before.reservations).toBe(6);
    expect(after.calls - before.calls).toBe(calls.length);
    expect(product.stock).toBe(4);
    for (const [i, response] of responses.entries()) {
      const repeat = await place(customers[i]!.token, items, { 'idempotency-key': `batch-${i}` });
      expect(repeat.body).toEqual(response.body);
      expect(await outbox('order-confirmed', response.body.id)).toHaveLength(1);
    }
  });
});

describe('Idempotency-Key', () => {
  test('20 concurrent requests with one key: one order, 20 identical answers', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 100 });
    const items = [{ productId: product.id, quantity: 3 }];

    const responses = await Promise.all(
      Array.from({ length: 20 }, () => place(customer.token, items, { 'idempotency-key': 'k-1' })),
    );

    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([201]));
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(await orders.em().count(Order, { userId: customer.id })).toBe(1);
    expect(product.stock).toBe(97);
  });

  test('a repeat replays the first answer, a rejection included; another body is 422', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 1 });
    const items = [{ productId: product.id, quantity: 2 }];

    const first = await place(customer.token, items, { 'idempotency-key': 'k-2' });
    product.stock = 50;
    const repeat = await place(customer.token, items, { 'idempotency-key': 'k-2' });
    const other = await place(customer.token, [{ productId: product.id, quantity: 1 }], {
      'idempotency-key': 'k-2',
    });

    expect([first.status, repeat.status, other.status]).toEqual([409, 409, 422]);
    expect(repeat.body).toEqual(first.body);
    expect(other.body.code).toBe('idempotency-key-reused');
    expect(await orders.em().count(Order, { userId: customer.id })).toBe(1);
  });

  test('keys belong to their user: two users with one key get two orders', async () => {
    const product = orders.sidecar.addProduct({ stock: 10 });
    const items = [{ productId: product.id, quantity: 1 }];

    const [one, two] = await Promise.all(
      [newCustomer(), newCustomer()].map((c) =>
        place(c.token, items, { 'idempotency-key': 'same' }),
      ),
    );

    expect([one!.status, two!.status]).toEqual([201, 201]);
    expect(one!.body.id).not.toBe(two!.body.id);
    expect(product.stock).toBe(8);
  });

  test('a key that is not visible ASCII is a 400', async () => {
    const customer = newCustomer();
    const product = orders.sidecar.addProduct();

    const response = await place(customer.token, [{ productId: product.id, quantity: 1 }], {
      'idempotency-key': 'a'.repeat(256),
    });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid-idempotency-key');
  });
});

describe('the outbox relay', () => {
  test('is nudged by a placed order: order-confirmed leaves at once, not at the next poll', async () => {
    const product = orders.sidecar.addProduct({ stock: 10 });
    const items = [{ productId: product.id, quantity: 1 }];
    const published: Event[] = [];
    const orderIdOf = (event: Event) => (event.data as { orderId: string }).orderId;
    const before = await place(newCustomer().token, items);
    // Polls once an hour: only its first round, then nudges, can publish anything.
    const relay = startOutboxRelay({
      orm: orders.orm,
      logger: silentLogger(),
      intervalMs: 3_600_000,
      publish: async (event) => void published.push(event),
    });
    try {
      await eventually('the first round', () =>
        published.some((e) => orderIdOf(e) === before.body.id),
      );

      const after = await place(newCustomer().token, items);

      expect(after.status).toBe(201);
      await eventually('order-confirmed of the new order', () =>
        published.some((e) => e.topic === 'order-confirmed' && orderIdOf(e) === after.body.id),
      );
    } finally {
      await relay.stop();
    }
  });
});
