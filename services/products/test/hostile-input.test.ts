import { hostileIds, seededRandom } from '@sidecart/chassis/testing';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Product } from '../src/products/product.entity.ts';
import { Reservation } from '../src/reservations/reservation.entity.ts';
import {
  appApiToken,
  call,
  createProduct,
  startProducts,
  userWith,
  type ProductsUnderTest,
} from './support.ts';

let products: ProductsUnderTest;
const seller = userWith('seller');
let victim: { id: string };
beforeAll(async () => {
  products = await startProducts();
  victim = await createProduct(products.url, seller, { stock: 7 });
});
afterAll(() => products.close());

const nasty = [
  "' OR '1'='1",
  '"; DROP TABLE products; --',
  '\u0000',
  '\ud800',
  '💥'.repeat(300),
  'a'.repeat(70_000),
  '<script>alert(1)</script>',
  'eur',
  '',
];

function hostileValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 10);
  if (depth > 2) return nasty[pick % nasty.length];
  switch (pick) {
    case 0:
      return nasty[Math.floor(next() * nasty.length)];
    case 1:
      return Math.floor(next() * 2 ** 53) * (next() > 0.5 ? -1 : 1);
    case 2:
      return 2 ** 53 + 2;
    case 3:
      return null;
    case 4:
      return [hostileValue(next, depth + 1)];
    case 5:
      return { $ne: null, __proto__: { admin: true }, nested: hostileValue(next, depth + 1) };
    case 6:
      return 1.5;
    case 7:
      return -1;
    default:
      return next() > 0.5;
  }
}

const fields = [
  'sku',
  'name',
  'description',
  'priceCents',
  'currency',
  'stock',
  'status',
  'sellerId',
  'delta',
  'reason',
  'orderId',
  'lines',
  'ids',
  'version',
  'id',
];
const hostileBody = (next: () => number) =>
  Object.fromEntries(fields.filter(() => next() > 0.6).map((field) => [field, hostileValue(next)]));

const internalHeaders = { 'dapr-api-token': appApiToken, 'dapr-caller-app-id': 'orders' };
const routes: [string, string, Record<string, string>][] = [
  ['POST', '/api/products', {}],
  ['PUT', '/api/products/:victim', { 'if-match': '"1"' }],
  ['PATCH', '/api/products/:victim', { 'if-match': '"1"' }],
  ['POST', '/api/products/:victim/stock-adjustments', {}],
  ['POST', '/internal/reservations', internalHeaders],
  ['POST', '/internal/products/lookup', internalHeaders],
];

async function snapshot() {
  const row = await products.em().findOneOrFail(Product, { id: victim.id });
  return {
    products: await products.em().count(Product, {}),
    reservations: await products.em().count(Reservation, {}),
    victim: [row.version, row.stock, row.name, row.status, row.priceCents],
  };
}

describe('hostile bodies on every route that takes one', () => {
  test.each(routes.map(([method, path, headers]) => ({ method, path, headers })))(
    '$method $path: 60 seeded hostile bodies → only 4xx problem+json, nothing changes',
    async ({ method, path, headers }) => {
      const next = seededRandom(path.length * 7919 + method.length);
      const before = await snapshot();
      const failures: string[] = [];

      for (let i = 0; i < 60; i += 1) {
        const body = hostileBody(next);
        const response = await call(products.url, method, path.replace(':victim', victim.id), {
          body,
          token: seller.token,
          headers,
        });
        const isProblem = response.headers.get('content-type') === 'application/problem+json';
        if (response.status < 400 || response.status >= 500 || !isProblem) {
          failures.push(`${response.status} ${JSON.stringify(body).slice(0, 200)}`);
        }
      }

      expect(failures).toEqual([]);
      expect(await snapshot()).toEqual(before);
    },
  );
});

describe('hostile query strings', () => {
  const queries = [
    'limit=-1',
    'limit=0',
    'limit=1000000000000',
    'limit=1e400',
    'limit=abc',
    'limit=1&limit=2',
    'cursor=not-a-cursor',
    'cursor=' + Buffer.from('not a uuid').toString('base64url'),
    'cursor=%00',
    'status[$ne]=draft',
    'status=deleted',
    'sellerId[$gt]=',
    'sellerId=1%27%20OR%201=1',
    'minPriceCents=9007199254740993',
    'maxPriceCents=-5',
    'minPriceCents=10&maxPriceCents=5',
    'currency=eur',
    'q=' + 'a'.repeat(300),
    'q=',
    '__proto__[admin]=true',
    'unknown=1',
  ];

  test.each(queries)('GET /api/products?%s → 400 problem+json', async (query) => {
    const response = await call(products.url, 'GET', `/api/products?${query}`);

    expect([response.status, response.headers.get('content-type')]).toEqual([
      400,
      'application/problem+json',
    ]);
  });

  test('full-text syntax of any kind is a search, never an error', async () => {
    const terms = [
      '"unclosed',
      '!!!',
      'a & b | !c',
      "'; drop table products; --",
      '-',
      '(((',
      ':*',
    ];

    const statuses = await Promise.all(
      terms.map(
        async (q) =>
          (await call(products.url, 'GET', `/api/products?q=${encodeURIComponent(q)}`)).status,
      ),
    );

    expect(statuses).toEqual(terms.map(() => 200));
  });
});

describe('hostile headers and ids', () => {
  test('malformed If-Match values are 400 and change nothing', async () => {
    const before = await snapshot();
    const values = ['1', '"1", "2"', 'W/', '"abc"', '"99999999999999999999"', '*, "1"'];

    const statuses = await Promise.all(
      values.map(
        async (value) =>
          (
            await call(products.url, 'PATCH', `/api/products/${victim.id}`, {
              token: seller.token,
              body: { name: 'Hijacked' },
              headers: { 'if-match': value },
            })
          ).status,
      ),
    );

    expect(statuses).toEqual(values.map(() => 400));
    expect(await snapshot()).toEqual(before);
  });

  test('malformed If-None-Match values are 400', async () => {
    const values = ['1', 'W/', '"1" "2"', '"1",,'];

    const statuses = await Promise.all(
      values.map(
        async (value) =>
          (
            await call(products.url, 'GET', `/api/products/${victim.id}`, {
              headers: { 'if-none-match': value },
            })
          ).status,
      ),
    );

    expect(statuses).toEqual(values.map(() => 400));
  });

  test('ids that are not UUIDs are 404 on public routes and 400 on internal ones, never a database error', async () => {
    const ids = hostileIds;

    const publicStatuses = await Promise.all(
      ids.map(
        async (id) =>
          (await call(products.url, 'GET', `/api/products/${encodeURIComponent(id)}`)).status,
      ),
    );
    const internalStatuses = await Promise.all(
      ids.map(
        async (id) =>
          (
            await call(
              products.url,
              'POST',
              `/internal/reservations/${encodeURIComponent(id)}/release`,
              {
                body: {},
                headers: internalHeaders,
              },
            )
          ).status,
      ),
    );

    expect(publicStatuses.every((status) => status === 404 || status === 400)).toBe(true);
    expect(internalStatuses.every((status) => status === 400 || status === 404)).toBe(true);
  });

  test('a JSON Patch document is 415 on PATCH, naming the patch formats accepted', async () => {
    const response = await call(products.url, 'PATCH', `/api/products/${victim.id}`, {
      token: seller.token,
      rawBody: JSON.stringify([{ op: 'replace', path: '/name', value: 'x' }]),
      headers: { 'if-match': '"1"', 'content-type': 'application/json-patch+json' },
    });

    expect([response.status, response.headers.get('accept-patch')]).toEqual([
      415,
      'application/json, application/merge-patch+json',
    ]);
  });
});
