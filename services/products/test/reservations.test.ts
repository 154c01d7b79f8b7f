import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { eventually, silentLogger } from '@sidecart/chassis/testing';
import { reserveBatchResponse, reserveResponse, releaseResponse } from '@sidecart/contracts';
import { Product } from '../src/products/product.entity.ts';
import { Reservation } from '../src/reservations/reservation.entity.ts';
import { reserveBatch } from '../src/reservations/reservations.queries.ts';
import { reservationStatements } from '../src/reservations/reservations.use-cases.ts';
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

const stockOf = async (id: string) => (await products.em().findOneOrFail(Product, { id })).stock;
const reserve = (
  orderId: string,
  lines: { productId: string; quantity: number }[],
  base = products.url,
) => internal(base, '/internal/reservations', { orderId, lines });
/** Whether some other session waits for a lock that `holder`'s transaction holds. */
const isWaiting = async (holder: pg.Client) => {
  const { rows } = await holder.query(
    `select count(*)::int as n from pg_stat_activity
     where pg_backend_pid() = any(pg_blocking_pids(pid))`,
  );
  return rows[0].n > 0;
};
const release = (orderId: string) =>
  internal(products.url, `/internal/reservations/${orderId}/release`, {});

describe('POST /internal/reservations', () => {
  test('reserves every line with its price snapshot, in one go', async () => {
    const a = await createProduct(products.url, seller, { stock: 5, priceCents: 1000 });
    const b = await createProduct(products.url, seller, {
      stock: 2,
      priceCents: 250,
      currency: 'USD',
    });
    const orderId = randomUUID();

    const response = await reserve(orderId, [
      { productId: a.id, quantity: 2 },
      { productId: b.id, quantity: 2 },
    ]);

    expect(response.status).toBe(200);
    expect(reserveResponse.parse(response.body)).toEqual({
      status: 'reserved',
      orderId,
      lines: expect.arrayContaining([
        { productId: a.id, quantity: 2, priceCents: 1000, currency: 'EUR' },
        { productId: b.id, quantity: 2, priceCents: 250, currency: 'USD' },
      ]),
    });
    expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([3, 0]);
  });

  test('when one line is short, answers 200 rejected naming it, and takes nothing', async () => {
    const plenty = await createProduct(products.url, seller, { stock: 5 });
    const scarce = await createProduct(products.url, seller, { stock: 1 });
    const draft = await createProduct(products.url, seller, { stock: 9, status: 'draft' });
    const unknown = randomUUID();
    const orderId = randomUUID();

    const response = await reserve(orderId, [
      { productId: plenty.id, quantity: 1 },
      { productId: scarce.id, quantity: 2 },
      { productId: draft.id, quantity: 1 },
      { productId: unknown, quantity: 1 },
    ]);

    expect(response.status).toBe(200);
    expect(response.body.status).toBe('rejected');
    expect(response.body.shortLines).toEqual(
      expect.arrayContaining([
        { productId: scarce.id, requested: 2, available: 1 },
        { productId: draft.id, requested: 1, available: 0 },
        { productId: unknown, requested: 1, available: 0 },
      ]),
    );
    expect(response.body.shortLines).toHaveLength(3);
    expect([await stockOf(plenty.id), await stockOf(scarce.id), await stockOf(draft.id)]).toEqual([
      5, 1, 9,
    ]);
  });

  test('a retry answers the first answer, with its price snapshot, and takes nothing more', async () => {
    const product = await createProduct(products.url, seller, { stock: 5, priceCents: 700 });
    const orderId = randomUUID();
    const first = await reserve(orderId, [{ productId: product.id, quantity: 2 }]);
    await products.em().nativeUpdate(Product, { id: product.id }, { priceCents: 900 });

    const retry = await reserve(orderId, [{ productId: product.id, quantity: 2 }]);

    expect(retry.body).toEqual(first.body);
    expect(retry.body.lines[0].priceCents).toBe(700);
    expect(await stockOf(product.id)).toBe(3);
  });

  test('one order retried 10 times at once reserves once', async () => {
    const product = await createProduct(products.url, seller, { stock: 50 });
    const orderId = randomUUID();

    const responses = await Promise.all(
      Array.from({ length: 10 }, () => reserve(orderId, [{ productId: product.id, quantity: 3 }])),
    );

    expect(responses.map((response) => [response.status, response.body.status])).toEqual(
      Array(10).fill([200, 'reserved']),
    );
    expect(await stockOf(product.id)).toBe(47);
    expect(await products.em().count(Reservation, { orderId })).toBe(1);
  });

  test('a reserve whose order is being decided by another call waits, takes nothing and answers that decision', async () => {
    const product = await createProduct(products.url, seller, { stock: 10 });
    const orderId = randomUUID();
    const other = new pg.Client({ connectionString: products.databaseUrl });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(
        `insert into reservations (order_id, status, lines, short_lines, created_at)
         values ($1, 'rejected', '[]', $2, now())`,
        [orderId, JSON.stringify([{ productId: product.id, requested: 1, available: 0 }])],
      );

      const pending = reserve(orderId, [{ productId: product.id, quantity: 1 }]);
      await eventually('the reserve to wait for the other call', () => isWaiting(other), 5000);
      await other.query('commit');
      const response = await pending;

      expect([response.status, response.body.status]).toEqual([200, 'rejected']);
      expect(await stockOf(product.id)).toBe(10);
    } finally {
      await other.end();
    }
  });

  test('200 concurrent orders of 1 unit against a stock of 50, over two replicas: exactly 50 reserved', async () => {
    const replica = await startProducts({ databaseUrl: products.databaseUrl });
    try {
      const product = await createProduct(products.url, seller, { stock: 50 });

      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          reserve(
            randomUUID(),
            [{ productId: product.id, quantity: 1 }],
            i % 2 ? replica.url : products.url,
          ),
        ),
      );

      const outcomes = responses.map((response) => `${response.status} ${response.body.status}`);
      expect(outcomes.filter((outcome) => outcome === '200 reserved')).toHaveLength(50);
      expect(outcomes.filter((outcome) => outcome === '200 rejected')).toHaveLength(150);
      expect(await stockOf(product.id)).toBe(0);
      // The fresh replica's own counts: its 100 reservations, in at most as many statements.
      const metrics = (await call(replica.url, 'GET', '/metrics')).body as string;
      const counted = (name: string) =>
        Number(new RegExp(`^${name}\\S* (\\d+)$`, 'm').exec(metrics)?.[1]);
      expect(counted('products_reservations_total')).toBe(100);
      expect(counted('products_reservation_statements_total')).toBeLessThanOrEqual(100);
    } finally {
      await replica.close();
    }
  });

  test('orders in opposite line orders never deadlock: all 40 are answered', async () => {
    const a = await createProduct(products.url, seller, { stock: 1000 });
    const b = await createProduct(products.url, seller, { stock: 1000 });

    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const lines = [
          { productId: a.id, quantity: 1 },
          { productId: b.id, quantity: 1 },
        ];
        return reserve(randomUUID(), i % 2 ? lines : lines.reverse());
      }),
    );

    expect(responses.filter((response) => response.body.status === 'reserved')).toHaveLength(40);
    expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([960, 960]);
  });

  test('100 concurrent two-line orders against stocks of 30 and 50: 30 take both lines, the rest nothing', async () => {
    const scarce = await createProduct(products.url, seller, { stock: 30 });
    const ample = await createProduct(products.url, seller, { stock: 50 });
    const orderIds = Array.from({ length: 100 }, () => randomUUID());

    const responses = await Promise.all(
      orderIds.map((orderId, i) => {
        const lines = [
          { productId: scarce.id, quantity: 1 },
          { productId: ample.id, quantity: 1 },
        ];
        return reserve(orderId, i % 2 ? lines : lines.reverse());
      }),
    );

    const reserved = responses.filter((response) => response.body.status === 'reserved');
    expect(reserved).toHaveLength(30);
    expect(reserved.every((response) => response.body.lines.length === 2)).toBe(true);
    expect([await stockOf(scarce.id), await stockOf(ample.id)]).toEqual([0, 20]);
    const rows = await products.em().find(Reservation, { orderId: { $in: orderIds } });
    expect(rows.filter((row) => row.status === 'reserved')).toHaveLength(30);
    expect(rows.filter((row) => row.status === 'rejected')).toHaveLength(70);
  });
});

describe('POST /internal/reservations/batch', () => {
  const reserveBatch = (reservations: unknown[]) =>
    internal(products.url, '/internal/reservations/batch', { reservations });

  test('decides each reservation on its own and answers them in order: 3 of 5 on a stock of 3', async () => {
    const product = await createProduct(products.url, seller, { stock: 3, priceCents: 700 });
    const orderIds = Array.from({ length: 5 }, () => randomUUID());

    const response = await reserveBatch(
      orderIds.map((orderId) => ({ orderId, lines: [{ productId: product.id, quantity: 1 }] })),
    );

    expect(response.status).toBe(200);
    const { results } = reserveBatchResponse.parse(response.body);
    expect(results.map((answer) => answer.orderId)).toEqual(orderIds);
    expect(results.filter((answer) => answer.status === 'reserved')).toHaveLength(3);
    expect(results.filter((answer) => answer.status === 'rejected')).toHaveLength(2);
    expect(await stockOf(product.id)).toBe(0);
    const rows = await products.em().find(Reservation, { orderId: { $in: orderIds } });
    expect(rows.filter((row) => row.status === 'reserved')).toHaveLength(3);
  });

  test('a batch repeating reservations already decided answers their first outcome and takes nothing more', async () => {
    const product = await createProduct(products.url, seller, { stock: 4 });
    const first = randomUUID();
    await reserve(first, [{ productId: product.id, quantity: 3 }]);
    const fresh = randomUUID();

    const response = await reserveBatch([
      { orderId: first, lines: [{ productId: product.id, quantity: 3 }] },
      { orderId: fresh, lines: [{ productId: product.id, quantity: 3 }] },
    ]);

    const { results } = reserveBatchResponse.parse(response.body);
    expect(results.map((answer) => answer.status)).toEqual(['reserved', 'rejected']);
    expect(await stockOf(product.id)).toBe(1);
  });

  test('an invalid batch — empty, too large, an order twice, a bad line — is 400 and reserves nothing', async () => {
    const product = await createProduct(products.url, seller, { stock: 100 });
    const one = (orderId = randomUUID(), quantity = 1) => ({
      orderId,
      lines: [{ productId: product.id, quantity }],
    });
    const twice = randomUUID();

    const statuses = [
      (await reserveBatch([])).status,
      (await reserveBatch(Array.from({ length: 65 }, () => one()))).status,
      (await reserveBatch([one(twice), one(twice)])).status,
      (await reserveBatch([one(), one(undefined, 0)])).status,
      (await internal(products.url, '/internal/reservations/batch', { reservations: 'x' })).status,
    ];

    expect(statuses).toEqual([400, 400, 400, 400, 400]);
    expect(await stockOf(product.id)).toBe(100);
  });
});

describe('reservations that queue behind a running statement', () => {
  const oneUnit = (productId: string, orderId = randomUUID()) => ({
    orderId,
    lines: [{ productId, quantity: 1 }],
  });
  /** The replica's queue of reservation statements, and the warnings it logged. */
  const statements = () => {
    const warnings: unknown[] = [];
    const logger = Object.assign(Object.create(silentLogger()), {
      warn: (...args: unknown[]) => warnings.push(args),
    });
    return { ...reservationStatements({ em: products.em, inFlight: 1, logger }), warnings };
  };

  test('are decided by one statement, each on its own and in order, as they would be alone', async () => {
    const product = await createProduct(products.url, seller, { stock: 3, priceCents: 400 });
    const other = await createProduct(products.url, seller, { stock: 9 });
    const decided = randomUUID();
    await reserve(decided, [{ productId: product.id, quantity: 1 }]);
    const voided = randomUUID();
    await release(voided);
    const again = randomUUID();

    const rows = await reserveBatch(products.em(), [
      { orderId: randomUUID(), lines: [{ productId: product.id, quantity: 3 }] },
      oneUnit(product.id, again),
      oneUnit(product.id, again),
      { orderId: decided, lines: [{ productId: product.id, quantity: 1 }] },
      oneUnit(product.id, voided),
      {
        orderId: randomUUID(),
        lines: [
          { productId: other.id, quantity: 2 },
          { productId: randomUUID(), quantity: 1 },
        ],
      },
      {
        orderId: randomUUID(),
        lines: [
          { productId: other.id, quantity: 2 },
          { productId: product.id, quantity: 1 },
        ],
      },
      oneUnit(product.id),
    ]);

    expect(rows.map((row) => row.status)).toEqual([
      'rejected', // 3 wanted, 2 left after `decided`
      'reserved',
      'reserved', // the same order again: its first answer, nothing more taken
      'reserved', // decided before the batch
      'voided', // released before it was reserved
      'rejected', // one line names no product: nothing taken from `other`
      'reserved', // the last unit of `product`, 2 of `other`
      'rejected', // nothing left
    ]);
    expect(rows[0]!.shortLines).toEqual([{ productId: product.id, requested: 3, available: 2 }]);
    expect(rows[1]).toEqual(rows[2]);
    expect(rows[1]!.lines).toEqual([
      { productId: product.id, quantity: 1, priceCents: 400, currency: 'EUR' },
    ]);
    expect([await stockOf(product.id), await stockOf(other.id)]).toEqual([0, 7]);
  });

  test('while a statement waits for the hot row, the next 19 queue and leave as one batch: 10 of 20 on a stock of 10', async () => {
    const product = await createProduct(products.url, seller, { stock: 10 });
    const { load, counts, warnings } = statements();
    const holder = new pg.Client({ connectionString: products.databaseUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from products where id = $1 for update', [product.id]);
      const first = load(oneUnit(product.id));
      await eventually('the first statement to wait for the row', () => isWaiting(holder), 5000);

      const queued = Array.from({ length: 19 }, () => load(oneUnit(product.id)));
      await holder.query('commit');
      const answers = await Promise.all([first, ...queued]);

      expect(answers.map((answer) => answer.status)).toEqual([
        ...Array(10).fill('reserved'),
        ...Array(10).fill('rejected'),
      ]);
      expect(counts).toEqual({ batches: 2, items: 20 });
      expect(warnings).toEqual([]); // decided by the batch statement, not one by one
      expect(await stockOf(product.id)).toBe(0);
    } finally {
      await holder.end();
    }
  });

  test('when the batch statement fails, nothing of it stays and each reservation is decided alone', async () => {
    const product = await createProduct(products.url, seller, { stock: 3 });
    const { load, counts, warnings } = statements();
    const admin = new pg.Client({ connectionString: products.databaseUrl });
    await admin.connect();
    await admin.query('alter function products_reserve_batch(jsonb) rename to reserve_batch_away');
    try {
      const orderIds = Array.from({ length: 5 }, () => randomUUID());

      const answers = await Promise.all(orderIds.map((id) => load(oneUnit(product.id, id))));

      expect(counts).toEqual({ batches: 1, items: 5 });
      expect(warnings).toHaveLength(1);
      expect(answers.map((answer) => answer.status).sort()).toEqual([
        'rejected',
        'rejected',
        'reserved',
        'reserved',
        'reserved',
      ]);
      expect(await stockOf(product.id)).toBe(0);
      expect(await products.em().count(Reservation, { orderId: { $in: orderIds } })).toBe(5);
    } finally {
      await admin.query(
        'alter function reserve_batch_away(jsonb) rename to products_reserve_batch',
      );
      await admin.end();
    }
  });
});

describe('POST /internal/reservations/:orderId/release', () => {
  test('restores exactly what the reservation took, once, however often it is called', async () => {
    const product = await createProduct(products.url, seller, { stock: 10 });
    const orderId = randomUUID();
    await reserve(orderId, [{ productId: product.id, quantity: 4 }]);

    const responses = await Promise.all([release(orderId), release(orderId), release(orderId)]);

    expect(responses.map((response) => releaseResponse.parse(response.body).status).sort()).toEqual(
      ['already-released', 'already-released', 'released'],
    );
    expect(await stockOf(product.id)).toBe(10);
    expect((await release(orderId)).body).toEqual({
      orderId,
      status: 'already-released',
      lines: [{ productId: product.id, quantity: 4 }],
    });
  });

  test('a release before any reservation voids the order: a late reserve holds nothing', async () => {
    const product = await createProduct(products.url, seller, { stock: 10 });
    const orderId = randomUUID();

    const released = await release(orderId);
    const late = await reserve(orderId, [{ productId: product.id, quantity: 2 }]);

    expect(released.body).toEqual({ orderId, status: 'not-reserved', lines: [] });
    expect(late.body).toEqual({
      status: 'rejected',
      orderId,
      shortLines: [{ productId: product.id, requested: 2, available: 0 }],
    });
    expect(await stockOf(product.id)).toBe(10);
  });

  test('a reservation racing its release is released in the end either way', async () => {
    const product = await createProduct(products.url, seller, { stock: 100 });
    const orderIds = Array.from({ length: 20 }, () => randomUUID());

    await Promise.all(
      orderIds.flatMap((orderId) => [
        reserve(orderId, [{ productId: product.id, quantity: 1 }]),
        release(orderId),
      ]),
    );
    // Whatever came first, one more release leaves nothing held.
    await Promise.all(orderIds.map((orderId) => release(orderId)));

    expect(await stockOf(product.id)).toBe(100);
  });
});

describe('POST /internal/products/lookup', () => {
  test('answers the products, whatever their status, and the ids that name none', async () => {
    const active = await createProduct(products.url, seller);
    const draft = await createProduct(products.url, seller, { status: 'draft' });
    const missing = randomUUID();

    const response = await internal(products.url, '/internal/products/lookup', {
      ids: [active.id, draft.id, missing],
    });

    expect(response.status).toBe(200);
    expect(response.body.missing).toEqual([missing]);
    expect(
      response.body.products.map((p: { id: string; status: string }) => [p.id, p.status]).sort(),
    ).toEqual(
      [
        [active.id, 'active'],
        [draft.id, 'draft'],
      ].sort(),
    );
  });
});

describe('only orders, through its sidecar, may call internal routes', () => {
  test('a wrong or missing app token is 401, another caller 403, and nothing is reserved', async () => {
    const product = await createProduct(products.url, seller, { stock: 5 });
    const body = { orderId: randomUUID(), lines: [{ productId: product.id, quantity: 1 }] };
    const send = (headers: Record<string, string>) =>
      call(products.url, 'POST', '/internal/reservations', { body, headers });

    const statuses = [
      (await send({ 'dapr-caller-app-id': 'orders' })).status,
      (await send({ 'dapr-api-token': 'guess', 'dapr-caller-app-id': 'orders' })).status,
      (await send({ 'dapr-api-token': appApiToken, 'dapr-caller-app-id': 'auth' })).status,
      (await send({ 'dapr-api-token': appApiToken })).status,
    ];

    expect(statuses).toEqual([401, 401, 403, 403]);
    expect(await stockOf(product.id)).toBe(5);
    expect(await products.em().count(Reservation, { orderId: body.orderId })).toBe(0);
  });

  test('without a configured APP_API_TOKEN every internal call is refused', async () => {
    const closed = await startProducts({ env: { APP_API_TOKEN: '' } });
    try {
      const response = await call(closed.url, 'POST', '/internal/products/lookup', {
        body: { ids: [randomUUID()] },
        headers: { 'dapr-api-token': '', 'dapr-caller-app-id': 'orders' },
      });

      expect(response.status).toBe(401);
    } finally {
      await closed.close();
    }
  });
});
