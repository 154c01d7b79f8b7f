import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { OutboxEvent } from '@sidecart/chassis';
import { Order } from '../src/orders/order.entity.ts';
import {
  call,
  newAdmin,
  newCustomer,
  startOrders,
  type OrdersUnderTest,
  type TestUser,
} from './support.ts';

let orders: OrdersUnderTest;
let admin: TestUser;
beforeAll(async () => {
  orders = await startOrders();
  admin = newAdmin();
});
afterAll(() => orders.close());

async function placed(customer: TestUser, quantity = 1) {
  const product = orders.sidecar.addProduct({ stock: 10 });
  const response = await call(orders.url, 'POST', '/api/orders', {
    token: customer.token,
    body: { items: [{ productId: product.id, quantity }] },
  });
  expect(response.status).toBe(201);
  return { order: response.body, product };
}

const patch = (user: TestUser, id: string, status: string, version?: number) =>
  call(orders.url, 'PATCH', `/api/orders/${id}`, {
    token: user.token,
    body: { status },
    headers: version === undefined ? {} : { 'if-match': `"${version}"` },
  });

const cancelEvents = async (orderId: string) =>
  (await orders.em().find(OutboxEvent, { topic: 'order-cancelled' })).filter(
    (row) => (row.data as { orderId: string }).orderId === orderId,
  );

describe('GET /api/orders', () => {
  test('a customer sees only their own orders, newest first, in cursor pages', async () => {
    const me = newCustomer();
    const someoneElse = newCustomer();
    const mine = [];
    for (let i = 0; i < 3; i += 1) mine.push((await placed(me)).order.id);
    await placed(someoneElse);

    const first = await call(orders.url, 'GET', '/api/orders?limit=2', { token: me.token });
    const second = await call(
      orders.url,
      'GET',
      `/api/orders?limit=2&cursor=${first.body.nextCursor}`,
      {
        token: me.token,
      },
    );

    expect(first.body.items.map((o: { id: string }) => o.id)).toEqual([mine[2], mine[1]]);
    expect(second.body.items.map((o: { id: string }) => o.id)).toEqual([mine[0]]);
    expect(second.body.nextCursor).toBeNull();
  });

  test('asking for another user’s orders is 403 for a customer, a filter for an admin', async () => {
    const me = newCustomer();
    const other = newCustomer();
    const { order } = await placed(other);

    const refused = await call(orders.url, 'GET', `/api/orders?userId=${other.id}`, {
      token: me.token,
    });
    const filtered = await call(
      orders.url,
      'GET',
      `/api/orders?userId=${other.id}&status=confirmed`,
      {
        token: admin.token,
      },
    );

    expect(refused.status).toBe(403);
    expect(filtered.body.items.map((o: { id: string }) => o.id)).toEqual([order.id]);
  });

  test('GET /:id: the owner and admins see it with its ETag; anyone else gets 404', async () => {
    const owner = newCustomer();
    const { order } = await placed(owner);

    const statuses = await Promise.all(
      [owner, admin, newCustomer()].map((user) =>
        call(orders.url, 'GET', `/api/orders/${order.id}`, { token: user.token }),
      ),
    );

    expect(statuses.map((r) => r.status)).toEqual([200, 200, 404]);
    expect(statuses[0]!.headers.get('etag')).toBe(`"${order.version}"`);
  });
});

describe('PATCH /api/orders/:id', () => {
  test('an admin ships and delivers with If-Match; each step bumps the version', async () => {
    const { order } = await placed(newCustomer());

    const shipped = await patch(admin, order.id, 'shipped', order.version);
    const delivered = await patch(admin, order.id, 'delivered', shipped.body.version);

    expect([shipped.status, delivered.status]).toEqual([200, 200]);
    expect(delivered.body).toMatchObject({ status: 'delivered', version: order.version + 2 });
    expect(delivered.headers.get('etag')).toBe(`"${order.version + 2}"`);
  });

  test('without If-Match 428, with a stale one 412 and the current version; nothing changes', async () => {
    const { order } = await placed(newCustomer());
    await patch(admin, order.id, 'shipped', order.version);

    const missing = await patch(admin, order.id, 'delivered');
    const stale = await patch(admin, order.id, 'delivered', order.version);

    expect([missing.status, stale.status]).toEqual([428, 412]);
    expect(stale.body.currentVersion).toBe(order.version + 1);
    expect((await orders.em().findOneOrFail(Order, { id: order.id })).status).toBe('shipped');
  });

  test('a transition the state machine does not allow is 409 with the allowed ones', async () => {
    const { order } = await placed(newCustomer());

    const responses = [];
    for (const status of ['delivered', 'pending', 'confirmed', 'rejected', 'failed']) {
      responses.push(await patch(admin, order.id, status, order.version));
    }

    expect(responses.map((r) => r.status)).toEqual([409, 409, 409, 409, 409]);
    expect(responses[0]!.body).toMatchObject({
      code: 'invalid-transition',
      status: 409,
      currentStatus: 'confirmed',
      allowed: ['shipped', 'cancelled'],
    });
    expect((await orders.em().findOneOrFail(Order, { id: order.id })).version).toBe(order.version);
  });

  test('the owner may cancel but not ship (403); another customer gets 404', async () => {
    const owner = newCustomer();
    const { order } = await placed(owner);

    const ship = await patch(owner, order.id, 'shipped', order.version);
    const stranger = await patch(newCustomer(), order.id, 'cancelled', order.version);
    const cancel = await patch(owner, order.id, 'cancelled', order.version);

    expect([ship.status, stranger.status, cancel.status]).toEqual([403, 404, 200]);
    expect(cancel.body).toMatchObject({ status: 'cancelled', reason: 'customer-request' });
    expect(await cancelEvents(order.id)).toHaveLength(1);
  });

  test('two concurrent changes with one version: one wins, the other gets 412', async () => {
    const { order } = await placed(newCustomer());

    const responses = await Promise.all([
      patch(admin, order.id, 'shipped', order.version),
      patch(admin, order.id, 'cancelled', order.version),
    ]);

    expect(responses.map((r) => r.status).sort()).toEqual([200, 412]);
    const stored = await orders.em().findOneOrFail(Order, { id: order.id });
    expect(stored.version).toBe(order.version + 1);
    expect(await cancelEvents(order.id)).toHaveLength(stored.status === 'cancelled' ? 1 : 0);
  });
});

describe('DELETE /api/orders/:id', () => {
  test('the owner cancels before shipping: order-cancelled with the lines, once', async () => {
    const owner = newCustomer();
    const { order, product } = await placed(owner, 3);

    const cancelled = await call(orders.url, 'DELETE', `/api/orders/${order.id}`, {
      token: owner.token,
    });
    const again = await call(orders.url, 'DELETE', `/api/orders/${order.id}`, {
      token: owner.token,
    });

    expect([cancelled.status, again.status]).toEqual([200, 409]);
    const events = await cancelEvents(order.id);
    expect(events.map((row) => row.data)).toEqual([
      expect.objectContaining({
        orderId: order.id,
        userId: owner.id,
        lines: [{ productId: product.id, quantity: 3 }],
        reason: 'customer-request',
        version: order.version + 1,
      }),
    ]);
  });

  test('after shipping the owner cannot cancel (409); an admin cannot either', async () => {
    const owner = newCustomer();
    const { order } = await placed(owner);
    await patch(admin, order.id, 'shipped', order.version);

    const byOwner = await call(orders.url, 'DELETE', `/api/orders/${order.id}`, {
      token: owner.token,
    });
    const byAdmin = await call(orders.url, 'DELETE', `/api/orders/${order.id}`, {
      token: admin.token,
    });

    expect([byOwner.status, byAdmin.status]).toEqual([409, 409]);
    expect(await cancelEvents(order.id)).toEqual([]);
  });

  test('an admin cancels anyone’s confirmed order, with reason admin', async () => {
    const { order } = await placed(newCustomer());

    const response = await call(orders.url, 'DELETE', `/api/orders/${order.id}`, {
      token: admin.token,
    });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'cancelled', reason: 'admin' });
  });
});
