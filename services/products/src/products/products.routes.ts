import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  AppError,
  currentUser,
  etagOf,
  notFound,
  ormRequestContext,
  requireIfMatch,
  requireRole,
  requireUser,
  type MikroORM,
  type TokenVerifier,
} from '@sidecart/chassis';
import { matchesIfNoneMatch } from './if-none-match.ts';
import { toProductDto, type Product } from './product.entity.ts';
import type { ProductCache } from './product-cache.ts';
import { listProducts, loadProduct } from './products.queries.ts';
import {
  createProductBody,
  listProductsQuery,
  parseProductId,
  patchProductBody,
  replaceProductBody,
  stockAdjustmentBody,
} from './products.schemas.ts';
import {
  archiveProduct,
  authorizeChange,
  changeProduct,
  createProduct,
} from './products.use-cases.ts';
import { adjustStock } from './stock.use-cases.ts';
import { canSee, identifyViewer, viewerOf } from './viewer.ts';

export interface ProductsRoutesDeps {
  orm: MikroORM;
  verify: TokenVerifier;
  cache: ProductCache;
  /** Runs before every write, after the caller is known (per-user rate limits). */
  writeGuards?: Middleware[];
}

const patchTypes = ['application/json', 'application/merge-patch+json'];
const prefix = '/api/products';

export function productsRoutes({ orm, verify, cache, writeGuards = [] }: ProductsRoutesDeps): {
  router: Router;
  hotRead: Middleware;
} {
  const em = () => orm.em as EntityManager;
  const router = new Router({ prefix });
  const viewer = identifyViewer(verify);
  // Every route but the hot GET /:id works in a request context (its own identity map); a cache
  // hit needs no EntityManager, and forking one per read cost more than the rest of the hit.
  const withOrm = ormRequestContext(orm);
  // An id in the cache was a valid one when it was loaded: only a miss checks it (a non-UUID is a
  // 404, never a database cast error).
  const loadById = (id: string) => loadProduct(orm.em.fork() as EntityManager, parseProductId(id));
  const writer = [requireUser(verify), ...writeGuards, withOrm];
  const actorOf = (ctx: Context) => ({
    viewer: currentUser(ctx.state),
    traceparent: ctx.state.traceparent as string | undefined,
  });
  /** Access first (404/403), then the preconditions, so nothing is revealed to outsiders. */
  const guardedChange = async (ctx: Context) => {
    const id = parseProductId(ctx.params.id);
    await authorizeChange(em(), id, currentUser(ctx.state));
    return { id, ...actorOf(ctx), expectedVersion: requireIfMatch(ctx) };
  };
  const answer = (ctx: Context, product: Product, status = 200) => {
    cache.forget(product.id); // read-your-writes on this replica, before the notification
    ctx.status = status;
    ctx.set('etag', etagOf(product.version));
    ctx.body = toProductDto(product);
  };

  router.get('/', viewer, withOrm, async (ctx) => {
    const query = listProductsQuery.parse(ctx.query);
    ctx.body = await listProducts(em(), query, viewerOf(ctx.state));
  });

  const readProduct = async (ctx: Context) => {
    const id = ctx.params.id!;
    const product = await cache.read(id, loadById);
    if (!product || !canSee(viewerOf(ctx.state), product)) throw notFound('product', id);
    ctx.set('etag', etagOf(product.version));
    // Who may see a draft depends on the token: shared caches must not reuse the answer.
    ctx.set('cache-control', 'private, no-cache');
    ctx.set('vary', 'authorization');
    if (matchesIfNoneMatch(ctx, product.version)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/json';
    ctx.body = product.body;
  };
  router.get('/:id', viewer, readProduct);

  router.post('/', ...writer, requireRole('seller', 'admin'), async (ctx) => {
    const input = createProductBody.parse(ctx.request.body);
    const product = await createProduct(em(), input, actorOf(ctx));
    ctx.set('location', `${prefix}/${product.id}`);
    answer(ctx, product, 201);
  });

  router.put('/:id', ...writer, async (ctx) => {
    const change = await guardedChange(ctx);
    const changes = replaceProductBody.parse(ctx.request.body);
    answer(ctx, await changeProduct(em(), change.id, changes, change));
  });

  router.patch('/:id', ...writer, async (ctx) => {
    const change = await guardedChange(ctx);
    if (ctx.is(patchTypes) === false) {
      throw new AppError(415, 'unsupported-media-type', 'Send a JSON merge patch (RFC 7396)', {
        headers: { 'accept-patch': patchTypes.join(', ') },
      });
    }
    const changes = patchProductBody.parse(ctx.request.body);
    answer(ctx, await changeProduct(em(), change.id, changes, change));
  });

  router.delete('/:id', ...writer, async (ctx) => {
    const change = await guardedChange(ctx);
    answer(ctx, await archiveProduct(em(), change.id, change));
  });

  router.post('/:id/stock-adjustments', ...writer, async (ctx) => {
    const id = parseProductId(ctx.params.id);
    await authorizeChange(em(), id, currentUser(ctx.state));
    const input = stockAdjustmentBody.parse(ctx.request.body);
    answer(ctx, await adjustStock(em(), id, input, currentUser(ctx.state)));
  });

  // The hot read, matched before the routers (app.ts mounts it as the chassis' middleware; ADR
  // 0011, addendum): @koa/router's dispatch — the host, every route's pattern, a chain composed
  // per request — took 1.5–2.5 µs of the app's ≈ 19 µs per cached answer. Whatever this does not
  // match exactly (HEAD, other letter cases, a trailing slash) goes on to the router's own route
  // above, with the same handler; both count under the same route template on /metrics.
  const hotRead: Middleware = (ctx, next) => {
    if (ctx.method !== 'GET') return next();
    const match = hotReadPath.exec(ctx.path);
    if (!match) return next();
    (ctx as { _matchedRoute?: string })._matchedRoute = hotReadRoute;
    ctx.params = { id: decodeParam(match[1]!) };
    return viewer(ctx, () => readProduct(ctx));
  };

  return { router, hotRead };
}

// The router's template for GET /:id under its prefix, and the one spelling the hot read takes.
const hotReadRoute = `${prefix}/:id`;
const hotReadPath = new RegExp(`^${prefix}/([^/]+)$`);

/** As @koa/router decodes a parameter: a malformed escape leaves it as it was sent. */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
