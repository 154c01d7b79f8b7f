import type { EntityManager } from '@mikro-orm/postgresql';
import { Product, toProductDto } from './product.entity.ts';
import type { CachedProduct } from './product-cache.ts';
import { encodeCursor, type ListProductsQuery } from './products.schemas.ts';
import { isAdmin, type Viewer } from './viewer.ts';

/**
 * A page of the products the viewer may see, newest first. Filters narrow what visibility allows;
 * they never widen it (a customer asking for drafts gets none).
 */
export async function listProducts(em: EntityManager, query: ListProductsQuery, viewer: Viewer) {
  const qb = em.createQueryBuilder(Product, 'p').select('*');
  if (!isAdmin(viewer)) {
    qb.andWhere(
      viewer.id ? { $or: [{ status: 'active' }, { sellerId: viewer.id }] } : { status: 'active' },
    );
  }
  if (query.status) qb.andWhere({ status: query.status });
  if (query.sellerId) qb.andWhere({ sellerId: query.sellerId });
  if (query.currency) qb.andWhere({ currency: query.currency });
  if (query.minPriceCents !== undefined) qb.andWhere({ priceCents: { $gte: query.minPriceCents } });
  if (query.maxPriceCents !== undefined) qb.andWhere({ priceCents: { $lte: query.maxPriceCents } });
  if (query.cursor) qb.andWhere({ id: { $lt: query.cursor } });
  // websearch_to_tsquery never fails on user syntax; the GIN index serves `search @@ …`.
  if (query.q) qb.andWhere(`p.search @@ websearch_to_tsquery('english', ?)`, [query.q]);
  const items = await qb
    .orderBy({ id: 'desc' })
    .limit(query.limit + 1)
    .getResultList();
  const page = items.slice(0, query.limit);
  return {
    items: page.map(toProductDto),
    nextCursor: items.length > query.limit ? encodeCursor(page.at(-1)!.id) : null,
  };
}

/** One product as GET /:id serves it, for the read cache. */
export async function loadProduct(
  em: EntityManager,
  id: string,
): Promise<CachedProduct | undefined> {
  const product = await em.findOne(Product, { id });
  if (!product) return undefined;
  const dto = toProductDto(product);
  return {
    sellerId: dto.sellerId,
    status: dto.status,
    version: dto.version,
    body: JSON.stringify(dto),
  };
}

/** The products orders and carts ask about, whatever their status, and the ids that name none. */
export async function lookupProducts(em: EntityManager, ids: string[]) {
  const found = await em.find(Product, { id: { $in: ids } }, { orderBy: { id: 'asc' } });
  const known = new Set(found.map((product) => product.id));
  return {
    products: found.map(
      ({ id, sellerId, sku, name, priceCents, currency, stock, status, version }) => ({
        id,
        sellerId,
        sku,
        name,
        priceCents,
        currency,
        stock,
        status,
        version,
      }),
    ),
    missing: ids.filter((id) => !known.has(id)),
  };
}
