import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Product } from '../src/products/product.entity.ts';
import {
  call,
  createProduct,
  newProduct,
  startProducts,
  userWith,
  type TestUser,
} from './support.ts';
import type { ProductsUnderTest } from './support.ts';

// Every role × every endpoint × every product status → exactly the expected status, and a refused
// request changes nothing (the product keeps its version and stock).

let products: ProductsUnderTest;
const owner = userWith('customer', 'seller');
const roles: Record<string, TestUser | undefined> = {
  anonymous: undefined,
  customer: userWith('customer'),
  owner,
  'other seller': userWith('customer', 'seller'),
  admin: userWith('admin'),
};
const statuses = ['draft', 'active', 'archived'] as const;
beforeAll(async () => {
  products = await startProducts();
});
afterAll(() => products.close());

/** What each role may do with a product of each status: see it, change it. */
const maySee = (role: string, status: string) =>
  status === 'active' || role === 'owner' || role === 'admin';
const mayChange = (role: string) => role === 'owner' || role === 'admin';

const expectedWrite = (role: string, status: string, success: number) => {
  if (role === 'anonymous') return 401;
  if (!maySee(role, status)) return 404;
  return mayChange(role) ? success : 403;
};

async function productWithStatus(status: (typeof statuses)[number]) {
  const product = await createProduct(products.url, owner, {
    status: status === 'archived' ? 'active' : status,
  });
  if (status === 'archived') {
    await products.em().nativeUpdate(Product, { id: product.id }, { status: 'archived' });
  }
  return products.em().findOneOrFail(Product, { id: product.id });
}

const writes: Record<string, (id: string, version: number) => [string, string, object]> = {
  PUT: (id, version) => {
    const { stock: _stock, ...body } = newProduct({ name: 'Replaced' });
    return ['PUT', `/api/products/${id}`, { body, headers: { 'if-match': `"${version}"` } }];
  },
  PATCH: (id, version) => [
    'PATCH',
    `/api/products/${id}`,
    { body: { name: 'Patched' }, headers: { 'if-match': `"${version}"` } },
  ],
  DELETE: (id, version) => [
    'DELETE',
    `/api/products/${id}`,
    { headers: { 'if-match': `"${version}"` } },
  ],
  'POST stock-adjustments': (id) => [
    'POST',
    `/api/products/${id}/stock-adjustments`,
    { body: { delta: 1, reason: 'matrix' } },
  ],
};

const cells = Object.keys(roles).flatMap((role) => statuses.map((status) => ({ role, status })));

describe('reads', () => {
  test.each(cells)(
    '$role, a $status product: GET /:id and GET / agree with the visibility rules',
    async ({ role, status }) => {
      const product = await productWithStatus(status);
      const token = roles[role]?.token;

      const one = await call(products.url, 'GET', `/api/products/${product.id}`, { token });
      const list = await call(products.url, 'GET', `/api/products?sellerId=${owner.id}&limit=100`, {
        token,
      });

      expect(one.status).toBe(maySee(role, status) ? 200 : 404);
      const ids = list.body.items.map((item: { id: string }) => item.id);
      expect([list.status, ids.includes(product.id)]).toEqual([200, maySee(role, status)]);
    },
  );
});

describe('writes', () => {
  const writeCells = cells.flatMap((cell) =>
    Object.keys(writes).map((endpoint) => ({ ...cell, endpoint })),
  );

  test.each(writeCells)(
    '$role, $endpoint on a $status product',
    async ({ role, status, endpoint }) => {
      const product = await productWithStatus(status);
      const [method, path, options] = writes[endpoint]!(product.id, product.version);

      const response = await call(products.url, method, path, {
        ...options,
        token: roles[role]?.token,
      });

      expect(response.status).toBe(expectedWrite(role, status, 200));
      const after = await products.em().findOneOrFail(Product, { id: product.id });
      const isNoOp = endpoint === 'DELETE' && status === 'archived';
      if (response.status !== 200 || isNoOp) {
        expect([after.version, after.stock, after.name, after.status]).toEqual([
          product.version,
          product.stock,
          product.name,
          product.status,
        ]);
      } else {
        expect(after.version).toBe(product.version + 1);
      }
    },
  );

  test.each(Object.keys(roles))('%s, POST /', async (role) => {
    const body = newProduct();

    const response = await call(products.url, 'POST', '/api/products', {
      body,
      token: roles[role]?.token,
    });

    const expected = { anonymous: 401, customer: 403, owner: 201, 'other seller': 201, admin: 201 }[
      role
    ];
    expect(response.status).toBe(expected);
    expect(await products.em().count(Product, { sku: body.sku })).toBe(expected === 201 ? 1 : 0);
  });
});
