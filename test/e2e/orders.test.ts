import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { waitUntil } from '@sidecart/dev/processes';
import type pg from 'pg';
import {
  checkOut,
  database,
  listProduct,
  request,
  retryUnavailable,
  signUp,
  tokenMinter,
  type Reply,
} from './orders-support.ts';
import { startStack, type RunningStack } from './stack.ts';

// The acceptance tests of the orders service, on the whole local stack (auth, products and orders,
// two replicas each beside their dev sidecars) through the ingress: nothing is faked.

jest.setTimeout(300_000);

let stack: RunningStack;
let ordersDb: pg.Client;
let productsDb: pg.Client;
let mint: Awaited<ReturnType<typeof tokenMinter>>;
let seller: { id: string; token: string };

beforeAll(async () => {
  // A shorter pending age than the default, so the products-down test settles within minutes.
  process.env.PENDING_MAX_AGE_MS = '15000';
  stack = await startStack({ replicas: 2, services: ['auth', 'products', 'orders'] });
  [ordersDb, productsDb] = await Promise.all([
    database(stack, 'orders'),
    database(stack, 'products'),
  ]);
  mint = await tokenMinter(stack);
  seller = await signUp(stack, 'seller');
}, 120_000);

afterAll(async () => {
  await Promise.all([ordersDb?.end(), productsDb?.end()]);
  const stopped = await stack?.stop();
  expect(stopped?.alivePids).toEqual([]);
});

const stockOf = async (productId: string) =>
  (await productsDb.query('select stock from products where id = $1', [productId])).rows[0]
    .stock as number;

/** Units of the product in orders that hold stock (confirmed and later, never cancelled). */
const unitsSold = async (productId: string) =>
  (
    await ordersDb.query(
      `select coalesce(sum((line->>'quantity')::int), 0)::int as units
         from orders, jsonb_array_elements(lines) line
        where status in ('confirmed', 'shipped', 'delivered') and line->>'productId' = $1`,
      [productId],
    )
  ).rows[0].units as number;

const countBy = (replies: Reply[]) =>
  replies.reduce<Record<number, number>>((counts, reply) => {
    counts[reply.status] = (counts[reply.status] ?? 0) + 1;
    return counts;
  }, {});

describe('flash sale', () => {
  test('300 customers check out one product with stock 100: 100 confirmed, 200 rejected, stock 0', async () => {
    const product = await listProduct(stack, seller.token, 100);
    const customers = Array.from({ length: 300 }, () => mint());

    const replies = await Promise.all(
      customers.map((customer) =>
        checkOut(stack, customer.token, [{ productId: product.id, quantity: 1 }]),
      ),
    );

    // Final answers: a checkout that met a 503 was retried with its key (checkOut), as clients do.
    expect(countBy(replies)).toEqual({ 201: 100, 409: 200 });
    expect(await stockOf(product.id)).toBe(0);
    expect(await unitsSold(product.id)).toBe(100);
    const { rows } = await ordersDb.query(
      `select status, count(*)::int as n from orders where lines @> $1::jsonb group by status order by status`,
      [JSON.stringify([{ productId: product.id }])],
    );
    // A checkout an open breaker refused (503, nothing reserved) leaves its order failed, and its
    // retry places a new one: only a checkout that was retried can have left one.
    const byStatus = Object.fromEntries(rows.map(({ status, n }) => [status, n]));
    const failed = byStatus.failed ?? 0;
    expect(byStatus).toEqual({ confirmed: 100, rejected: 200, ...(failed ? { failed } : {}) });
    expect(failed).toBeLessThanOrEqual(replies.filter((reply) => reply.attempts > 1).length);
    const reservations = await productsDb.query(
      `select status, count(*)::int as n from reservations where lines @> $1::jsonb group by status`,
      [JSON.stringify([{ productId: product.id }])],
    );
    expect(reservations.rows).toEqual([{ status: 'reserved', n: 100 }]);
  });
});

describe('idempotency', () => {
  test('one Idempotency-Key sent 20 times at once: one order, 20 identical answers', async () => {
    const product = await listProduct(stack, seller.token, 50);
    const customer = mint();
    const key = randomUUID();

    // Sent at once; a 503 (overload: the first answer not known in time) is retried as clients do.
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        retryUnavailable(() =>
          request(stack, 'POST', '/api/orders', {
            token: customer.token,
            body: { items: [{ productId: product.id, quantity: 2 }] },
            headers: { 'idempotency-key': key },
          }),
        ),
      ),
    );

    expect(countBy(replies)).toEqual({ 201: 20 });
    expect(new Set(replies.map((reply) => JSON.stringify(reply.body))).size).toBe(1);
    const orders = await ordersDb.query('select id from orders where user_id = $1', [customer.id]);
    expect(orders.rows).toEqual([{ id: replies[0]!.body.id }]);
    expect(await stockOf(product.id)).toBe(48);
  });
});

describe('cancel', () => {
  test('gives the stock back exactly once, also when order-cancelled is delivered twice', async () => {
    const product = await listProduct(stack, seller.token, 10);
    const customer = mint();
    const placed = await checkOut(stack, customer.token, [{ productId: product.id, quantity: 4 }]);
    expect(placed.status).toBe(201);
    expect(await stockOf(product.id)).toBe(6);

    const cancelled = await request(stack, 'DELETE', `/api/orders/${placed.body.id}`, {
      token: customer.token,
    });

    expect(cancelled.status).toBe(200);
    expect(await waitUntil(async () => (await stockOf(product.id)) === 10, 30_000)).toBe(true);
    // Delivered again: the same CloudEvent id (the relay re-publishes the row) and a copy with a
    // new id (as a second publisher would), which only release's own idempotency can absorb.
    const { rows } = await ordersDb.query(
      `select id, data from outbox_events where topic = 'order-cancelled' and data->>'orderId' = $1`,
      [placed.body.id],
    );
    expect(rows).toHaveLength(1);
    const copyId = randomUUID();
    await ordersDb.query(`update outbox_events set published_at = null where id = $1`, [
      rows[0].id,
    ]);
    await ordersDb.query(
      `insert into outbox_events (id, topic, data, created_at, attempts, next_attempt_at)
       values ($1, 'order-cancelled', $2, now(), 0, now())`,
      [copyId, rows[0].data],
    );
    const handled = async () =>
      (await productsDb.query('select 1 from inbox_events where event_id = $1', [copyId]))
        .rowCount === 1;
    const republished = async () =>
      (
        await ordersDb.query(
          'select 1 from outbox_events where id = $1 and published_at is not null',
          [rows[0].id],
        )
      ).rowCount === 1;
    expect(await waitUntil(async () => (await handled()) && (await republished()), 30_000)).toBe(
      true,
    );
    expect(await stockOf(product.id)).toBe(10);
  });
});

describe('products down', () => {
  test('503s with Retry-After, the breaker opens, and afterwards nothing is pending and no stock is lost', async () => {
    const product = await listProduct(stack, seller.token, 1_000);
    const products = stack.current().services.products!.replicas;
    for (const replica of products) process.kill(replica.pid!, 'SIGSTOP');
    let replies: Reply[];
    try {
      replies = [];
      for (let round = 0; round < 4; round += 1) {
        replies.push(
          ...(await Promise.all(
            Array.from({ length: 6 }, () =>
              request(stack, 'POST', '/api/orders', {
                token: mint().token,
                body: { items: [{ productId: product.id, quantity: 1 }] },
              }),
            ),
          )),
        );
      }
      const metrics = await Promise.all(
        stack
          .current()
          .services.orders!.replicas.map(async (replica) =>
            (await fetch(`http://127.0.0.1:${replica.appPort}/metrics`)).text(),
          ),
      );

      expect(countBy(replies)).toEqual({ 503: 24 });
      for (const reply of replies) expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(replies.map((reply) => reply.body.code)).toEqual(
        replies.map(() => 'products-unavailable'),
      );
      expect(
        metrics.every((text) =>
          text.includes('circuit_breaker_state{name="products:internal/reservations",state="open"'),
        ),
      ).toBe(true);
      expect(
        metrics.some((text) =>
          /circuit_breaker_state\{name="products:internal\/reservations",state="open"[^}]*\} 1/.test(
            text,
          ),
        ),
      ).toBe(true);
    } finally {
      // A replica the supervisor replaced meanwhile is gone (ESRCH): that must not hide the
      // assertion that failed above.
      for (const replica of products) {
        try {
          process.kill(replica.pid!, 'SIGCONT');
        } catch {
          // gone
        }
      }
    }

    const nothingPending = async () =>
      (await ordersDb.query(`select 1 from orders where status = 'pending'`)).rowCount === 0;
    expect(await waitUntil(nothingPending, 120_000, 500)).toBe(true);
    // Failed orders' order-failed events release whatever products reserved for them.
    const balanced = async () =>
      (await stockOf(product.id)) + (await unitsSold(product.id)) === 1_000;
    expect(await waitUntil(balanced, 60_000, 500)).toBe(true);
  });
});
