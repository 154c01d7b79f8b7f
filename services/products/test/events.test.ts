import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { InboxEvent, OutboxEvent } from '@sidecart/chassis';
import { parseEvent } from '@sidecart/contracts';
import { Product } from '../src/products/product.entity.ts';
import {
  appApiToken,
  call,
  createProduct,
  internal,
  startProducts,
  userWith,
  type ProductsUnderTest,
} from './support.ts';

let products: ProductsUnderTest;
const seller = userWith('seller');
beforeAll(async () => {
  products = await startProducts();
});
afterAll(() => products.close());

async function outboxOf(productId: string) {
  const rows = await products.em().find(OutboxEvent, {}, { orderBy: { createdAt: 'asc' } });
  return rows.filter((row) => (row.data as { productId?: string }).productId === productId);
}

/** A CloudEvent as the sidecar delivers it. */
const deliver = (topic: string, data: unknown, id: string = randomUUID()) =>
  call(products.url, 'POST', `/dapr/events/${topic}`, {
    body: { id, source: 'orders', type: 'com.dapr.event.sent', specversion: '1.0', topic, data },
    headers: { 'dapr-api-token': appApiToken, 'content-type': 'application/cloudevents+json' },
  });

describe('events out (outbox)', () => {
  test('create, update and archive each record one event, valid against its contract', async () => {
    const product = await createProduct(products.url, seller);
    await call(products.url, 'PATCH', `/api/products/${product.id}`, {
      token: seller.token,
      body: { priceCents: 4200 },
      headers: { 'if-match': '"1"' },
    });
    await call(products.url, 'DELETE', `/api/products/${product.id}`, {
      token: seller.token,
      headers: { 'if-match': '"2"' },
    });

    const rows = await outboxOf(product.id);

    expect(rows.map((row) => row.topic)).toEqual([
      'product-created',
      'product-updated',
      'product-archived',
    ]);
    const parsed = rows.map((row) => parseEvent(row.topic, row.data));
    expect(parsed.every((event) => event.ok)).toBe(true);
    expect(rows.map((row) => (row.data as { version: number }).version)).toEqual([1, 2, 3]);
    expect((rows[1]!.data as { price: unknown }).price).toEqual({ cents: 4200, currency: 'EUR' });
    expect((rows[2]!.data as { reason: string }).reason).toBe('archived-by-owner');
  });

  test('a refused change records nothing', async () => {
    const product = await createProduct(products.url, seller);

    await call(products.url, 'PATCH', `/api/products/${product.id}`, {
      token: seller.token,
      body: { priceCents: 1 },
      headers: { 'if-match': '"9"' },
    });

    expect((await outboxOf(product.id)).map((row) => row.topic)).toEqual(['product-created']);
  });
});

describe('events in (inbox)', () => {
  test('order-cancelled releases the reservation once, however often it is delivered', async () => {
    const product = await createProduct(products.url, seller, { stock: 10 });
    const orderId = randomUUID();
    await internal(products.url, '/internal/reservations', {
      orderId,
      lines: [{ productId: product.id, quantity: 3 }],
    });
    const data = {
      orderId,
      userId: randomUUID(),
      lines: [{ productId: product.id, quantity: 3 }],
      reason: 'customer-request',
      version: 2,
      occurredAt: new Date().toISOString(),
    };
    const eventId = randomUUID();

    const answers = await Promise.all([
      deliver('order-cancelled', data, eventId),
      deliver('order-cancelled', data, eventId),
    ]);

    expect(answers.map((answer) => answer.body.status)).toEqual(['SUCCESS', 'SUCCESS']);
    expect((await products.em().findOneOrFail(Product, { id: product.id })).stock).toBe(10);
    expect(await products.em().count(InboxEvent, { eventId })).toBe(1);
  });

  test('order-failed for an order never reserved is acknowledged and changes no stock', async () => {
    const product = await createProduct(products.url, seller, { stock: 10 });

    const answer = await deliver('order-failed', {
      orderId: randomUUID(),
      userId: randomUUID(),
      lines: [{ productId: product.id, quantity: 3 }],
      reason: 'reservation-timed-out',
      version: 1,
      occurredAt: new Date().toISOString(),
    });

    expect(answer.body.status).toBe('SUCCESS');
    expect((await products.em().findOneOrFail(Product, { id: product.id })).stock).toBe(10);
  });

  test("user-deleted archives the seller's products, each with a product-archived event", async () => {
    const leaving = userWith('seller');
    const a = await createProduct(products.url, leaving);
    const b = await createProduct(products.url, leaving, { status: 'draft' });
    const other = await createProduct(products.url, seller);

    const answer = await deliver('user-deleted', {
      userId: leaving.id,
      roles: ['customer', 'seller'],
      occurredAt: new Date().toISOString(),
    });

    expect(answer.body.status).toBe('SUCCESS');
    const statuses = await products.em().find(Product, { id: { $in: [a.id, b.id, other.id] } });
    expect(Object.fromEntries(statuses.map((p) => [p.id, p.status]))).toEqual({
      [a.id]: 'archived',
      [b.id]: 'archived',
      [other.id]: 'active',
    });
    const archived = [...(await outboxOf(a.id)), ...(await outboxOf(b.id))].filter(
      (row) => row.topic === 'product-archived',
    );
    expect(archived.map((row) => (row.data as { reason: string }).reason)).toEqual([
      'seller-deleted',
      'seller-deleted',
    ]);
    expect((await call(products.url, 'GET', `/api/products/${a.id}`)).status).toBe(404);
  });

  test('an event that breaks its contract is dropped to the dead letters and changes nothing', async () => {
    const answer = await deliver('order-cancelled', { orderId: 'not-a-uuid' });

    expect(answer.body.status).toBe('DROP');
  });

  test('a delivery without the sidecar token is refused', async () => {
    const response = await call(products.url, 'POST', '/dapr/events/user-deleted', {
      body: { id: randomUUID(), source: 'x', type: 't', specversion: '1.0', data: {} },
    });

    expect(response.status).toBe(401);
  });
});

describe('GET /dapr/subscribe', () => {
  test('lists the three topics products consumes, each with its dead-letter topic', async () => {
    const response = await call(products.url, 'GET', '/dapr/subscribe');

    expect(response.body.map((s: { topic: string }) => s.topic).sort()).toEqual([
      'order-cancelled',
      'order-failed',
      'user-deleted',
    ]);
  });
});
