import { notFound } from '@sidecart/chassis';
import { z } from 'zod';
import { maxPriceCents, maxStock, productStatuses } from './product.entity.ts';

const currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR');
const priceCents = z.int().min(0).max(maxPriceCents);

/** The fields a seller edits; stock moves only through adjustments and reservations. */
const editable = {
  sku: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/, 'letters, digits, _ . -'),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000),
  priceCents,
  currency,
  status: z.enum(productStatuses),
};

export const createProductBody = z.strictObject({
  ...editable,
  description: editable.description.default(''),
  status: z.enum(['draft', 'active']).default('draft'),
  stock: z.int().min(0).max(maxStock).default(0),
  /** Admins may create a product for a seller; a seller always creates their own. */
  sellerId: z.uuid().optional(),
});

/** PUT replaces every editable field. */
export const replaceProductBody = z.strictObject(editable);

/** PATCH merges (RFC 7396): absent fields stay; null removes the description, nothing else. */
export const patchProductBody = z
  .strictObject({
    ...editable,
    description: editable.description.nullable().transform((text) => text ?? ''),
  })
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'change at least one field');

export const stockAdjustmentBody = z.strictObject({
  delta: z
    .int()
    .min(-maxStock)
    .max(maxStock)
    .refine((delta) => delta !== 0, 'a delta of 0 changes nothing'),
  reason: z.string().trim().min(1).max(200),
});

/** The opaque cursor of the product list: the last id of a page, base64url-encoded. */
export const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');

const cursor = z
  .string()
  .max(64)
  .regex(/^[\w-]+$/, 'not a cursor from this API')
  .transform((raw) => Buffer.from(raw, 'base64url').toString())
  .pipe(z.uuid('not a cursor from this API'));

const queryPrice = z.coerce.number().int().min(0).max(maxPriceCents);

export const listProductsQuery = z
  .strictObject({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: cursor.optional(),
    status: z.enum(productStatuses).optional(),
    sellerId: z.uuid().optional(),
    currency: currency.optional(),
    minPriceCents: queryPrice.optional(),
    maxPriceCents: queryPrice.optional(),
    /** Full-text search over name and description (web-search syntax: `"red shoe" -leather`). */
    q: z.string().trim().min(1).max(200).optional(),
  })
  .refine(
    (query) =>
      query.minPriceCents === undefined ||
      query.maxPriceCents === undefined ||
      query.minPriceCents <= query.maxPriceCents,
    { message: 'minPriceCents must not exceed maxPriceCents', path: ['minPriceCents'] },
  );

export type CreateProductInput = z.output<typeof createProductBody>;
export type ProductChanges = z.output<typeof patchProductBody>;
export type ListProductsQuery = z.output<typeof listProductsQuery>;

const productId = z.uuid();

/** An id that is not a UUID names no product: 404, never a database cast error. */
export function parseProductId(raw: string | undefined): string {
  const parsed = productId.safeParse(raw);
  if (!parsed.success) throw notFound('product');
  return parsed.data;
}
