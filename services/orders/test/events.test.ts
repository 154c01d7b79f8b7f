import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { OutboxEvent } from '@sidecart/chassis';
import { eventually } from '@sidecart/chassis/testing';
import { Order } from '../src/orders/order.entity.ts';
import { reservationsAsked } from './fake-sidecar.ts';
import { call, newCustomer, startOrders, type OrdersUnderTest } from './support.ts';

let orders: OrdersUnderTest;
beforeAll(async () => {
  // Long enough for a reservation held in flight while a test delivers an event.
  orders = await startOrders({ PRODUCTS_TIMEOUT_MS: '5000' });
});
afterAll(() => orders.close());

/** A delivery as the sidecar makes it: a CloudEvent with the publisher's outbox id. */
const deliverUserDeleted = (userId: string, id = randomUUID()) =>
  call(orders.url, 'POST', '/dapr/events/user-deleted', {
    headers: { 'content-type': 'application/cloudevents+json' },
    body: {
      id,
      source: 'auth',
      type: 'com.dapr.event.sent',
      specversion: '1.0',
      topic: 'user-deleted',
      data: { userId, roles: ['customer'], occurredAt: new Date().toISOString() },
    },
  });

const cancelled = async (userId: string) =>
  (await orders.em().find(OutboxEvent, { topic: 'order-cancelled' })).filter(
    (row) => (row.data as { userId: string }).userId === userId,
  );

describe('user-deleted', () => {
  test('cancels open orders, leaves shipped ones, drops the cart; a redelivery changes nothing', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 10 });
    const place = () =>
      call(orders.url, 'POST', '/api/orders', {
        token: user.token,
        body: { items: [{ productId: product.id, quantity: 1 }] },
      });
    const open = (await place()).body;
    const shipped = (await place()).body;
    await orders.em().nativeUpdate(Order, { id: shipped.id }, { status: 'shipped' });
    await call(orders.url, 'PUT', '/api/cart', {
      token: user.token,
      body: { items: [{ productId: product.id, quantity: 1 }] },
      headers: { 'if-none-match': '*' },
    });
    const eventId = randomUUID();

    const first = await deliverUserDeleted(user.id, eventId);
    const again = await deliverUserDeleted(user.id, eventId);

    expect([first.body, again.body]).toEqual([{ status: 'SUCCESS' }, { status: 'SUCCESS' }]);
    const statuses = await orders.em().find(Order, { userId: user.id }, { orderBy: { id: 'asc' } });
    expect(statuses.map((order) => [order.id, order.status, order.reason])).toEqual([
      [open.id, 'cancelled', 'user-deleted'],
      [shipped.id, 'shipped', null],
    ]);
    expect(
      (await cancelled(user.id)).map((row) => (row.data as { orderId: string }).orderId),
    ).toEqual([open.id]);
    expect(orders.sidecar.state.has(`cart-${user.id}`)).toBe(false);
  });

  test('a pending order is cancelled as soon as it settles, giving its stock back', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 10 });
    orders.sidecar.products.mode = 'down';
    const response = await call(orders.url, 'POST', '/api/orders', {
      token: user.token,
      body: { items: [{ productId: product.id, quantity: 2 }] },
    });
    expect(response.status).toBe(503);

    await deliverUserDeleted(user.id);
    orders.sidecar.products.mode = 'up';
    await orders.em().nativeUpdate(Order, { userId: user.id }, { sweepAt: new Date(0) });
    await orders.sweeper.sweep();

    const [order] = await orders.em().find(Order, { userId: user.id });
    expect([order!.status, order!.reason]).toEqual(['cancelled', 'user-deleted']);
    expect((await cancelled(user.id)).map((row) => row.data)).toEqual([
      expect.objectContaining({
        orderId: order!.id,
        lines: [{ productId: product.id, quantity: 2 }],
      }),
    ]);
  });

  test('a pending order flagged while its reservation is in flight is cancelled when it settles', async () => {
    const user = newCustomer();
    const product = orders.sidecar.addProduct({ stock: 10 });
    let answer = () => {};
    orders.sidecar.products.gate = new Promise((resolve) => (answer = resolve));
    const placing = call(orders.url, 'POST', '/api/orders', {
      token: user.token,
      body: { items: [{ productId: product.id, quantity: 2 }] },
    });
    const [pending] = await eventually(
      'the order stored and its reservation in flight',
      async () => {
        const stored = await orders.em().find(Order, { userId: user.id });
        const asked = reservationsAsked(orders.sidecar.products);
        return stored.length === 1 && asked.some((one) => one.orderId === stored[0]!.id) && stored;
      },
    );

    await deliverUserDeleted(user.id);
    answer();
    orders.sidecar.products.gate = undefined;
    const response = await placing;

    expect(response.status).toBe(201);
    const order = await orders.em().findOneOrFail(Order, { id: pending!.id });
    expect([order.status, order.reason]).toEqual(['cancelled', 'user-deleted']);
    expect(product.stock).toBe(8);
    expect((await cancelled(user.id)).map((row) => row.data)).toEqual([
      expect.objectContaining({
        orderId: order.id,
        lines: [{ productId: product.id, quantity: 2 }],
      }),
    ]);
  });

  test('an event that breaks its contract is dropped to the dead letters', async () => {
    const response = await deliverUserDeleted('not-a-uuid');

    expect(response.body).toEqual({ status: 'DROP' });
  });
});
