import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { waitUntil } from '@sidecart/dev/processes';
import { listProduct, logInAsAdmin, request, signUp } from './orders-support.ts';
import { startStack, type RunningStack } from './stack.ts';

// The journeys of a shop, end to end through the ingress of the whole local stack.

jest.setTimeout(180_000);

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack({ replicas: 2, services: ['auth', 'products', 'orders'] });
}, 120_000);
afterAll(async () => {
  const stopped = await stack?.stop();
  expect(stopped?.alivePids).toEqual([]);
});

const stockOf = async (productId: string) =>
  (await request(stack, 'GET', `/api/products/${productId}`)).body.stock as number;

describe('journeys', () => {
  test('a seller lists; a customer fills a cart, checks out, sees only their orders, cancels; the stock comes back', async () => {
    const seller = await signUp(stack, 'seller');
    const product = await listProduct(stack, seller.token, 10, 2_999);
    const customer = await signUp(stack);
    const other = await signUp(stack);
    await request(stack, 'POST', '/api/orders', {
      token: other.token,
      body: { items: [{ productId: product.id, quantity: 1 }] },
    });

    const filled = await request(stack, 'PUT', '/api/cart', {
      token: customer.token,
      body: { items: [{ productId: product.id, quantity: 3 }] },
      headers: { 'if-none-match': '*' },
    });
    const cart = await request(stack, 'GET', '/api/cart', { token: customer.token });
    const checkout = await request(stack, 'POST', '/api/cart/checkout', {
      token: customer.token,
      headers: { 'idempotency-key': randomUUID() },
    });
    const mine = await request(stack, 'GET', '/api/orders', { token: customer.token });
    const emptied = await request(stack, 'GET', '/api/cart', { token: customer.token });

    expect(filled.status).toBe(200);
    expect(cart.headers.get('etag')).toBe(filled.headers.get('etag'));
    expect(cart.body.items).toEqual([
      expect.objectContaining({
        productId: product.id,
        quantity: 3,
        unitPrice: { cents: 2_999, currency: 'EUR' },
        problem: null,
      }),
    ]);
    expect(checkout.status).toBe(201);
    expect(checkout.body).toMatchObject({
      status: 'confirmed',
      total: { cents: 8_997, currency: 'EUR' },
    });
    expect(mine.body.items.map((order: { id: string }) => order.id)).toEqual([checkout.body.id]);
    expect(emptied.body).toEqual({ items: [] });
    expect(await stockOf(product.id)).toBe(6);

    const cancelled = await request(stack, 'DELETE', `/api/orders/${checkout.body.id}`, {
      token: customer.token,
    });

    expect(cancelled.body.status).toBe('cancelled');
    expect(await waitUntil(async () => (await stockOf(product.id)) === 9, 30_000)).toBe(true);
  });

  test('an admin ships and delivers; the customer can no longer cancel', async () => {
    const seller = await signUp(stack, 'seller');
    const product = await listProduct(stack, seller.token, 5);
    const customer = await signUp(stack);
    const admin = await logInAsAdmin(stack);
    const placed = await request(stack, 'POST', '/api/orders', {
      token: customer.token,
      body: { items: [{ productId: product.id, quantity: 1 }] },
    });

    const shipped = await request(stack, 'PATCH', `/api/orders/${placed.body.id}`, {
      token: admin,
      body: { status: 'shipped' },
      headers: { 'if-match': placed.headers.get('etag')! },
    });
    const lateCancel = await request(stack, 'DELETE', `/api/orders/${placed.body.id}`, {
      token: customer.token,
    });
    const delivered = await request(stack, 'PATCH', `/api/orders/${placed.body.id}`, {
      token: admin,
      body: { status: 'delivered' },
      headers: { 'if-match': shipped.headers.get('etag')! },
    });

    expect([placed.status, shipped.status, lateCancel.status, delivered.status]).toEqual([
      201, 200, 409, 200,
    ]);
    const seen = await request(stack, 'GET', `/api/orders/${placed.body.id}`, {
      token: customer.token,
    });
    expect(seen.body.status).toBe('delivered');
    expect(await stockOf(product.id)).toBe(4);
  });

  test('a deleted user’s open orders are cancelled, their stock comes back, their cart is gone', async () => {
    const seller = await signUp(stack, 'seller');
    const product = await listProduct(stack, seller.token, 5);
    const customer = await signUp(stack);
    const admin = await logInAsAdmin(stack);
    const placed = await request(stack, 'POST', '/api/orders', {
      token: customer.token,
      body: { items: [{ productId: product.id, quantity: 2 }] },
    });
    await request(stack, 'PUT', '/api/cart', {
      token: customer.token,
      body: { items: [{ productId: product.id, quantity: 1 }] },
      headers: { 'if-none-match': '*' },
    });
    expect(await stockOf(product.id)).toBe(3);

    const deleted = await request(stack, 'DELETE', `/api/auth/users/${customer.id}`, {
      token: admin,
    });

    expect(deleted.status).toBe(204);
    const cancelled = async () =>
      (await request(stack, 'GET', `/api/orders/${placed.body.id}`, { token: admin })).body
        .status === 'cancelled';
    expect(await waitUntil(cancelled, 30_000)).toBe(true);
    expect(await waitUntil(async () => (await stockOf(product.id)) === 5, 30_000)).toBe(true);
    const order = await request(stack, 'GET', `/api/orders/${placed.body.id}`, { token: admin });
    expect(order.body.reason).toBe('user-deleted');
    // The customer's token still verifies until it expires: their cart is empty now.
    const cart = await request(stack, 'GET', '/api/cart', { token: customer.token });
    expect(cart.body).toEqual({ items: [] });
  });
});
