import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startProducts, type ProductsUnderTest } from './support.ts';

let products: ProductsUnderTest;
beforeAll(async () => {
  products = await startProducts();
});
afterAll(() => products.close());

describe('migrations', () => {
  test('create what the entities describe: db:migration:create would find nothing to do', async () => {
    const diff = await products.orm.schema.getUpdateSchemaSQL({ wrap: false });

    expect(diff).toBe('');
  });
});
