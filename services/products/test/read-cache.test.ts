import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import pg from 'pg';
import { eventually } from '@sidecart/chassis/testing';
import type { CachedProduct } from '../src/products/product-cache.ts';
import { createProduct, startProducts, userWith, type ProductsUnderTest } from './support.ts';

let products: ProductsUnderTest;
const seller = userWith('seller');
beforeAll(async () => {
  products = await startProducts();
  await eventually('the cache to listen for changes', () => products.cache.stats().isLive, 5000);
});
afterAll(() => products.close());

/** A load that answers only when told to, counting its calls. */
function gatedLoad(product: CachedProduct) {
  let open = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const load = jest.fn(async () => {
    await gate;
    return product;
  });
  return { load, open };
}

const productNamed = (name: string): CachedProduct => ({
  sellerId: randomUUID(),
  status: 'active',
  version: 1,
  body: JSON.stringify({ name }),
});

describe('the product read cache', () => {
  test('a burst of reads of an uncached product loads it once', async () => {
    const id = randomUUID();
    const { load, open } = gatedLoad(productNamed('first'));

    const reads = Array.from({ length: 32 }, () => products.cache.read(id, load));
    open();
    const answers = await Promise.all(reads);

    expect(load).toHaveBeenCalledTimes(1);
    expect(new Set(answers.map((answer) => answer?.body))).toEqual(new Set(['{"name":"first"}']));
  });

  test('a reader after a change does not share a load that began before it', async () => {
    const id = randomUUID();
    const before = gatedLoad(productNamed('before the change'));
    const after = gatedLoad(productNamed('after the change'));

    const early = products.cache.read(id, before.load);
    products.cache.forget(id); // the change's notification
    const late = products.cache.read(id, after.load);
    after.open();
    before.open();

    expect((await early)?.body).toBe('{"name":"before the change"}');
    expect((await late)?.body).toBe('{"name":"after the change"}');
    const next = await products.cache.read(id, async () => undefined);
    expect(next?.body).toBe('{"name":"after the change"}');
  });

  test('serves a cached product, 200 and 304, while PostgreSQL would keep any query waiting', async () => {
    const product = await createProduct(products.url, seller);
    const url = `${products.url}/api/products/${product.id}`;
    await fetch(url); // now cached
    const locker = new pg.Client({ connectionString: products.databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table products in access exclusive mode');

      const ok = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const notModified = await fetch(url, {
        headers: { 'if-none-match': '"1"' },
        signal: AbortSignal.timeout(5000),
      });

      expect([ok.status, ((await ok.json()) as { id: string }).id]).toEqual([200, product.id]);
      expect(notModified.status).toBe(304);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  });
});
