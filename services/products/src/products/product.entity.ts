import { defineEntity, p } from '@mikro-orm/core';
import { v7 as uuidv7 } from 'uuid';

export const productStatuses = ['draft', 'active', 'archived'] as const;
export type ProductStatus = (typeof productStatuses)[number];

/** Caps that keep every sum of stock and a delta, and every price, inside a PostgreSQL integer. */
export const maxStock = 1_000_000_000;
export const maxPriceCents = 1_000_000_000;

/** The read caches' change feed: the product's id on `products_changed` (product-cache.ts). */
const notifyChange = `perform pg_notify('products_changed', old.id::text); return null;`;

export const ProductSchema = defineEntity({
  name: 'Product',
  tableName: 'products',
  uniques: [{ name: 'products_seller_id_sku_unique', properties: ['sellerId', 'sku'] }],
  indexes: [
    { name: 'products_status_id_index', properties: ['status', 'id'] },
    { name: 'products_search_index', properties: ['search'], type: 'fulltext' },
  ],
  checks: [
    { name: 'products_stock_check', expression: `stock >= 0 and stock <= ${maxStock}` },
    {
      name: 'products_price_cents_check',
      expression: `price_cents >= 0 and price_cents <= ${maxPriceCents}`,
    },
  ],
  // Every replica's read cache marks a product changed when its catalog facts change or it goes,
  // whoever changed it (the ORM, psql): PostgreSQL delivers the notification when the change
  // commits. Stock moves (reservations, releases, adjustments: nothing else changes) are not
  // announced; the caches refresh stock on their own within their refresh window (ADR 0011).
  triggers: [
    {
      name: 'products_notify_change',
      timing: 'after',
      events: ['update'],
      forEach: 'row',
      when: '(old.stock = new.stock)', // as PostgreSQL prints it back (stock is never null)
      body: notifyChange,
    },
    {
      name: 'products_notify_delete',
      timing: 'after',
      events: ['delete'],
      forEach: 'row',
      body: notifyChange,
    },
  ],
  properties: {
    // Version 7 ids sort by creation time: the list's cursor needs no other column.
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    sellerId: p.uuid(),
    sku: p.string().length(64),
    name: p.string().length(200),
    description: p.string().length(5000).default(''),
    priceCents: p.integer(),
    currency: p.string().length(3),
    stock: p.integer().default(0),
    status: p.enum(productStatuses),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    version: p.integer().version(),
    /** Written by PostgreSQL from name and description; only queries read it. */
    search: p
      .type('tsvector')
      .columnType('tsvector')
      .generated(`(to_tsvector('english', name || ' ' || description)) stored`)
      .lazy()
      .hidden()
      .nullable(),
  },
});

export class Product extends ProductSchema.class {
  isOwnedBy(userId: string): boolean {
    return this.sellerId === userId;
  }
}
ProductSchema.setClass(Product);

/** A product as the API shows it. */
export function toProductDto(product: Product) {
  return {
    id: product.id,
    sellerId: product.sellerId,
    sku: product.sku,
    name: product.name,
    description: product.description,
    priceCents: product.priceCents,
    currency: product.currency,
    stock: product.stock,
    status: product.status,
    version: product.version,
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
  };
}

export type ProductDto = ReturnType<typeof toProductDto>;
