import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import pg from 'pg';
import { eventually } from '@sidecart/chassis/testing';
import { silentLogger } from '@sidecart/chassis/testing';
import {
  startProductCache,
  type CachedProduct,
  type ProductCache,
} from '../src/products/product-cache.ts';
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

const productNamed = (name: string, version = 1): CachedProduct => ({
  sellerId: randomUUID(),
  status: 'active',
  version,
  body: JSON.stringify({ name }),
});

/** A cache of its own on the test database, with a clock the test moves. */
async function cacheWithClock() {
  const clock = { now: 0 };
  const cache = startProductCache({
    databaseUrl: products.databaseUrl,
    maxEntries: 100,
    logger: silentLogger(),
    maxStaleMs: 250,
    refreshAfterMs: 500,
    now: () => clock.now,
  });
  await eventually('the cache to listen', () => cache.stats().isLive, 5000);
  return { cache, clock };
}

const never = async (): Promise<CachedProduct | undefined> => {
  throw new Error('this read should have been served from memory');
};

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

  /**
   * Two ways an entry goes stale — its change is announced, or it outlives the refresh window (stock
   * moves are not announced) — and the same two windows after that: served while one reload runs,
   * then no longer served.
   */
  const staleness = [
    {
      how: 'a changed product',
      freshAt: 0,
      staleAt: 10,
      goneAt: 250,
      makeStale: (cache: ProductCache, id: string) => cache.changed(id),
    },
    {
      how: 'an entry older than the refresh window',
      freshAt: 499,
      staleAt: 500,
      goneAt: 750, // 500 ms of refresh window, then 250 of stale window
      makeStale: () => {},
    },
  ];

  test.each(staleness)(
    '$how is served from memory while one reload replaces it',
    async ({ freshAt, staleAt, makeStale }) => {
      const { cache, clock } = await cacheWithClock();
      try {
        const id = randomUUID();
        await cache.read(id, async () => productNamed('v1', 1));
        clock.now = freshAt;
        const fresh = await cache.read(id, never);
        makeStale(cache, id);
        const reload = gatedLoad(productNamed('v2', 2));

        clock.now = staleAt;
        const during = await Promise.all(
          Array.from({ length: 10 }, () => cache.read(id, reload.load)),
        );
        reload.open();
        await eventually(
          'the reload to be stored',
          async () => (await cache.read(id, never))?.version === 2,
          1000,
        );

        expect([fresh, ...during].map((product) => product?.version)).toEqual(Array(11).fill(1));
        expect(reload.load).toHaveBeenCalledTimes(1);
        // Reads until the reload is stored are stale hits too.
        expect(cache.stats()).toMatchObject({ hits: 2, misses: 1 });
        expect(cache.stats().staleHits).toBeGreaterThanOrEqual(10);
      } finally {
        await cache.close();
      }
    },
  );

  test.each(staleness)(
    '$how is not served once its window has passed: the reader waits for the load',
    async ({ goneAt, makeStale }) => {
      const { cache, clock } = await cacheWithClock();
      try {
        const id = randomUUID();
        await cache.read(id, async () => productNamed('v1', 1));
        makeStale(cache, id);

        clock.now = goneAt;
        const read = await cache.read(id, async () => productNamed('v2', 2));

        expect(read?.version).toBe(2);
      } finally {
        await cache.close();
      }
    },
  );

  test('under a stream of changes, one reload per half window', async () => {
    const { cache, clock } = await cacheWithClock();
    try {
      const id = randomUUID();
      let version = 1;
      const load = jest.fn(async () => productNamed(`v${version}`, version));
      await cache.read(id, load);

      // A change and a read every millisecond for a second: a flash sale on one product.
      for (clock.now = 1; clock.now <= 1000; clock.now += 1) {
        version += 1;
        cache.changed(id);
        const product = await cache.read(id, load);
        expect(version - product!.version).toBeLessThan(250);
      }

      expect(load.mock.calls.length).toBeLessThanOrEqual(1 + 1000 / 125);
    } finally {
      await cache.close();
    }
  });

  test('stock moves are not announced on the change feed; catalog changes and deletes are', async () => {
    const moved = await createProduct(products.url, seller);
    const edited = await createProduct(products.url, seller);
    const deleted = await createProduct(products.url, seller);
    const listener = new pg.Client({ connectionString: products.databaseUrl });
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(message.payload!));
    await listener.connect();
    try {
      await listener.query('listen products_changed');
      const db = new pg.Client({ connectionString: products.databaseUrl });
      await db.connect();
      const bump = 'version = version + 1, updated_at = now()';
      await db.query(`update products set stock = stock - 1, ${bump} where id = $1`, [moved.id]);
      await db.query(`update products set price_cents = 1, ${bump} where id = $1`, [edited.id]);
      await db.query('delete from products where id = $1', [deleted.id]);
      await db.end();

      // Notifications arrive in commit order: once the last is here, any earlier one is too.
      await eventually('the delete to be announced', () => heard.includes(deleted.id), 5000);
      expect(heard).toEqual([edited.id, deleted.id]);
    } finally {
      await listener.end();
    }
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
