import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Product } from '../src/products/product.entity.ts';
import { call, createProduct, startProducts, userWith, type ProductsUnderTest } from './support.ts';

let products: ProductsUnderTest;
beforeAll(async () => {
  products = await startProducts({ env: { RATE_LIMIT_PRODUCT_WRITES: '3/60' } });
});
afterAll(() => products.close());

describe('catalog writes are rate-limited per user', () => {
  test('past the limit a write is a 429 problem that changes nothing; other users and reads go on', async () => {
    const seller = userWith('seller');
    const other = userWith('seller');
    const product = await createProduct(products.url, seller, { stock: 10 });
    const adjust = (user = seller) =>
      call(products.url, 'POST', `/api/products/${product.id}/stock-adjustments`, {
        token: user.token,
        body: { delta: 1, reason: 'restock' },
      });

    const statuses = [(await adjust()).status, (await adjust()).status];
    const limited = await adjust();

    expect(statuses).toEqual([200, 200]);
    expect([limited.status, limited.headers.get('content-type'), limited.body.code]).toEqual([
      429,
      'application/problem+json',
      expect.any(String),
    ]);
    expect((await products.em().findOneOrFail(Product, { id: product.id })).stock).toBe(12);
    expect((await createProduct(products.url, other)).version).toBe(1);
    expect((await call(products.url, 'GET', `/api/products/${product.id}`)).status).toBe(200);
  });
});
