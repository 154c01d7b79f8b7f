import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { eventually } from '@sidecart/chassis/testing';
import { Product } from '../src/products/product.entity.ts';
import { StockAdjustment } from '../src/products/stock-adjustment.entity.ts';
import {
  call,
  createProduct,
  newProduct,
  startProducts,
  userWith,
  type ProductsUnderTest,
} from './support.ts';

let products: ProductsUnderTest;
const seller = userWith('customer', 'seller');
const admin = userWith('admin');
beforeAll(async () => {
  products = await startProducts();
});
afterAll(() => products.close());

const stored = (id: string) => products.em().findOneOrFail(Product, { id });

describe('POST /api/products', () => {
  test('creates the product for the seller: 201, Location, a strong ETag, version 1', async () => {
    const body = newProduct({ status: 'draft' });

    const response = await call(products.url, 'POST', '/api/products', {
      token: seller.token,
      body,
    });

    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/api/products/${response.body.id}`);
    expect(response.headers.get('etag')).toBe('"1"');
    expect(response.body).toMatchObject({ ...body, sellerId: seller.id, version: 1 });
    expect((await stored(response.body.id)).sellerId).toBe(seller.id);
  });

  test('a second product with the same SKU from the same seller is a 409; another seller may use it', async () => {
    const body = newProduct();
    await call(products.url, 'POST', '/api/products', { token: seller.token, body });
    const other = userWith('seller');

    const again = await call(products.url, 'POST', '/api/products', { token: seller.token, body });
    const elsewhere = await call(products.url, 'POST', '/api/products', {
      token: other.token,
      body,
    });

    expect([again.status, again.body.code, elsewhere.status]).toEqual([409, 'sku-taken', 201]);
    expect(await products.em().count(Product, { sku: body.sku })).toBe(2);
  });

  test('a seller cannot create for another seller; an admin can', async () => {
    const other = userWith('seller');

    const refused = await call(products.url, 'POST', '/api/products', {
      token: seller.token,
      body: newProduct({ sellerId: other.id }),
    });
    const made = await call(products.url, 'POST', '/api/products', {
      token: admin.token,
      body: newProduct({ sellerId: other.id }),
    });

    expect([refused.status, made.status, made.body.sellerId]).toEqual([403, 201, other.id]);
  });
});

describe('GET /api/products/:id', () => {
  test('answers the ETag; If-None-Match with it is a 304 without a body', async () => {
    const product = await createProduct(products.url, seller);

    const first = await call(products.url, 'GET', `/api/products/${product.id}`);
    const again = await call(products.url, 'GET', `/api/products/${product.id}`, {
      headers: { 'if-none-match': `"7", W/"1"` },
    });

    expect([first.status, first.headers.get('etag')]).toEqual([200, '"1"']);
    expect(first.body).toEqual(product);
    expect([again.status, again.body, again.headers.get('etag')]).toEqual([304, '', '"1"']);
  });

  test('answers alike however the path is spelled, and counts every read under the route template', async () => {
    const product = await createProduct(products.url, seller);
    // The hot read takes the canonical spelling before the router; the router the others.
    const spellings = [
      `/api/products/${product.id}`,
      `/API/Products/${product.id}`,
      `/api/products/${product.id}/`,
      `/api/products/${product.id.replaceAll('-', '%2D')}`,
    ];
    const readsCounted = async () => {
      const metrics = (await call(products.url, 'GET', '/metrics')).body as string;
      const series =
        /^http_requests_total\{method="GET",route="\/api\/products\/:id",status="200"[^}]*\} (\d+)$/m;
      return Number(series.exec(metrics)?.[1] ?? 0);
    };
    const before = await readsCounted();

    const answers = [];
    for (const path of spellings) answers.push(await call(products.url, 'GET', path));
    const head = await call(products.url, 'HEAD', spellings[0]!);

    expect(
      answers.map((answer) => [answer.status, answer.headers.get('etag'), answer.body]),
    ).toEqual(spellings.map(() => [200, '"1"', product]));
    expect([head.status, head.headers.get('etag'), head.body]).toEqual([200, '"1"', '']);
    expect((await readsCounted()) - before).toBe(spellings.length);
  });

  test('serves repeated reads from memory, and a change made elsewhere at once (LISTEN/NOTIFY)', async () => {
    const product = await createProduct(products.url, seller);
    await call(products.url, 'GET', `/api/products/${product.id}`);
    const before = products.cache.stats();

    for (let i = 0; i < 5; i += 1) await call(products.url, 'GET', `/api/products/${product.id}`);
    await products
      .em()
      .getConnection()
      .execute(`update products set name = 'Changed in psql' where id = ?`, [product.id]);

    expect(products.cache.stats().hits - before.hits).toBe(5);
    // The notification arrives on commit, asynchronously: within the second the design allows.
    const seen = await eventually(
      'the change to be served',
      async () => {
        const response = await call(products.url, 'GET', `/api/products/${product.id}`);
        return response.body.name === 'Changed in psql' && response;
      },
      1000,
    );
    expect(seen.headers.get('etag')).toBe('"1"');
  });
});

describe('PATCH /api/products/:id', () => {
  test('merges the fields sent (merge-patch+json), bumps the version, keeps the rest', async () => {
    const product = await createProduct(products.url, seller);

    const response = await call(products.url, 'PATCH', `/api/products/${product.id}`, {
      token: seller.token,
      rawBody: JSON.stringify({ name: 'Renamed', description: null }),
      headers: { 'if-match': '"1"', 'content-type': 'application/merge-patch+json' },
    });

    expect([response.status, response.headers.get('etag')]).toEqual([200, '"2"']);
    expect(response.body).toMatchObject({
      ...product,
      name: 'Renamed',
      description: '',
      version: 2,
      updatedAt: expect.any(String),
    });
    expect((await stored(product.id)).name).toBe('Renamed');
  });

  test('without If-Match: 428; with a stale one: 412 naming the current version; nothing changes', async () => {
    const product = await createProduct(products.url, seller);
    const patch = (headers: Record<string, string>) =>
      call(products.url, 'PATCH', `/api/products/${product.id}`, {
        token: seller.token,
        body: { name: 'Lost' },
        headers,
      });
    await patch({ 'if-match': '"1"' });

    const missing = await patch({});
    const stale = await patch({ 'if-match': '"1"' });

    expect([missing.status, missing.body.code]).toEqual([428, 'if-match-required']);
    expect([stale.status, stale.body.code, stale.body.currentVersion]).toEqual([
      412,
      'version-mismatch',
      2,
    ]);
    expect((await stored(product.id)).version).toBe(2);
  });

  test('20 concurrent PATCHes with one ETag over two replicas: exactly one wins, its state is stored', async () => {
    const replica = await startProducts({ databaseUrl: products.databaseUrl });
    try {
      const product = await createProduct(products.url, seller);

      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(i % 2 ? replica.url : products.url, 'PATCH', `/api/products/${product.id}`, {
            token: seller.token,
            body: { name: `Writer ${i}` },
            headers: { 'if-match': '"1"' },
          }),
        ),
      );

      const statuses = responses.map((response) => response.status).sort();
      expect(statuses).toEqual([200, ...Array(19).fill(412)]);
      const winner = responses.find((response) => response.status === 200)!;
      const row = await stored(product.id);
      expect([row.name, row.version]).toEqual([winner.body.name, 2]);
      for (const loser of responses.filter((response) => response.status === 412)) {
        expect(loser.body.currentVersion).toBe(2);
      }
    } finally {
      await replica.close();
    }
  });

  test.each([
    {
      change: 'a catalog edit',
      make: (id: string) =>
        call(products.url, 'PATCH', `/api/products/${id}`, {
          token: seller.token,
          body: { priceCents: 2500 },
          headers: { 'if-match': '"1"' },
        }),
      expected: { priceCents: 2500, stock: 10 },
    },
    {
      // Not announced on the change feed: the other replica refreshes its entry (ADR 0011).
      change: 'a stock adjustment',
      make: (id: string) =>
        call(products.url, 'POST', `/api/products/${id}/stock-adjustments`, {
          token: seller.token,
          body: { delta: -3, reason: 'damaged in the warehouse' },
        }),
      expected: { priceCents: 1999, stock: 7 },
    },
  ])(
    '$change on one replica is served by the other within a second',
    async ({ make, expected }) => {
      const replica = await startProducts({ databaseUrl: products.databaseUrl });
      try {
        await eventually('the replica to listen', () => replica.cache.stats().isLive, 5000);
        const product = await createProduct(products.url, seller, { priceCents: 1999, stock: 10 });
        await call(replica.url, 'GET', `/api/products/${product.id}`); // cached there now

        const made = await make(product.id);

        expect(made.status).toBe(200);
        const seen = await eventually(
          'the other replica to serve version 2',
          async () => {
            const response = await call(replica.url, 'GET', `/api/products/${product.id}`);
            return response.body.version === 2 && response;
          },
          1000,
        );
        expect([seen.body, seen.headers.get('etag')]).toEqual([
          expect.objectContaining(expected),
          '"2"',
        ]);
      } finally {
        await replica.close();
      }
    },
  );
});

describe('PUT and DELETE /api/products/:id', () => {
  test('PUT replaces every editable field; a missing one is a 400 and changes nothing', async () => {
    const product = await createProduct(products.url, seller);
    const { stock: _stock, ...replacement } = newProduct({ name: 'Replaced', status: 'draft' });

    const partial = await call(products.url, 'PUT', `/api/products/${product.id}`, {
      token: seller.token,
      body: { name: 'Only a name' },
      headers: { 'if-match': '"1"' },
    });
    const full = await call(products.url, 'PUT', `/api/products/${product.id}`, {
      token: seller.token,
      body: replacement,
      headers: { 'if-match': '"1"' },
    });

    expect(partial.status).toBe(400);
    expect([full.status, full.body.name, full.body.status, full.body.version]).toEqual([
      200,
      'Replaced',
      'draft',
      2,
    ]);
  });

  test('DELETE archives: anonymous users no longer see it, the seller still does', async () => {
    const product = await createProduct(products.url, seller);

    const archived = await call(products.url, 'DELETE', `/api/products/${product.id}`, {
      token: seller.token,
      headers: { 'if-match': '"1"' },
    });

    expect([archived.status, archived.body.status]).toEqual([200, 'archived']);
    expect((await call(products.url, 'GET', `/api/products/${product.id}`)).status).toBe(404);
    const own = await call(products.url, 'GET', `/api/products/${product.id}`, {
      token: seller.token,
    });
    expect([own.status, own.body.status]).toEqual([200, 'archived']);
  });
});

describe('POST /api/products/:id/stock-adjustments', () => {
  test('adds and removes atomically, records who and why, and never goes below zero (409 naming the stock)', async () => {
    const product = await createProduct(products.url, seller, { stock: 5 });
    const adjust = (delta: number) =>
      call(products.url, 'POST', `/api/products/${product.id}/stock-adjustments`, {
        token: seller.token,
        body: { delta, reason: 'stock count' },
      });

    const added = await adjust(3);
    const refused = await adjust(-9);

    expect([added.status, added.body.stock, added.headers.get('etag')]).toEqual([200, 8, '"2"']);
    expect([refused.status, refused.body.code, refused.body.stock]).toEqual([
      409,
      'insufficient-stock',
      8,
    ]);
    expect((await stored(product.id)).stock).toBe(8);
    const log = await products.em().find(StockAdjustment, { productId: product.id });
    expect(log.map((entry) => [entry.delta, entry.actorId, entry.stockAfter])).toEqual([
      [3, seller.id, 8],
    ]);
  });

  test('40 concurrent removals of 1 from a stock of 25: exactly 25 succeed, the stock ends at 0', async () => {
    const product = await createProduct(products.url, seller, { stock: 25 });

    const responses = await Promise.all(
      Array.from({ length: 40 }, () =>
        call(products.url, 'POST', `/api/products/${product.id}/stock-adjustments`, {
          token: seller.token,
          body: { delta: -1, reason: 'sold offline' },
        }),
      ),
    );

    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(25);
    expect(statuses.filter((status) => status === 409)).toHaveLength(15);
    expect((await stored(product.id)).stock).toBe(0);
  });
});
