import { z } from 'zod';
import { id, orderLine } from './fields.ts';

/**
 * The internal calls of products (Dapr service invocation, app id `products`; only `orders` may
 * make them). Expected outcomes, such as a rejected reservation, are 2xx answers: Dapr's circuit
 * breakers count 4xx as failures. Validation errors stay 4xx.
 */
export const productsInternalRoutes = {
  /** POST `ReserveRequest` → 200 `ReserveResponse`. Idempotent by orderId. */
  reserve: 'internal/reservations',
  /**
   * POST `ReserveBatchRequest` → 200 `ReserveBatchResponse`: several reservations in one call,
   * each decided on its own exactly as `reserve` decides it; the answers in the request's order.
   */
  reserveBatch: 'internal/reservations/batch',
  /** POST `{}` → 200 `ReleaseResponse`. Idempotent: restores a reservation's stock once. */
  release: (orderId: string) => `internal/reservations/${orderId}/release`,
  /** POST `LookupRequest` → 200 `LookupResponse`. */
  lookup: 'internal/products/lookup',
} as const;

/** At most this many lines per reservation and ids per lookup. */
export const maxLines = 100;

export const reserveRequest = z.object({
  orderId: id,
  /** One line per product (merge quantities before calling); any order: products sorts them. */
  lines: z
    .array(orderLine.extend({ quantity: z.int().min(1).max(1_000_000) }))
    .min(1)
    .max(maxLines)
    .refine((lines) => new Set(lines.map((line) => line.productId)).size === lines.length, {
      message: 'one line per product',
    }),
});

/** A reserved line with the price snapshot taken inside the reservation's transaction. */
export const reservedLine = z.object({
  productId: id,
  quantity: z.int().min(1),
  priceCents: z.int().min(0),
  currency: z.string().regex(/^[A-Z]{3}$/),
});

/** A line that could not be reserved: `available` is 0 for an unknown or inactive product. */
export const shortLine = z.object({
  productId: id,
  requested: z.int().min(1),
  available: z.int().min(0),
});

export const reserveResponse = z.discriminatedUnion('status', [
  z.object({ status: z.literal('reserved'), orderId: id, lines: z.array(reservedLine).min(1) }),
  z.object({ status: z.literal('rejected'), orderId: id, shortLines: z.array(shortLine).min(1) }),
]);

/** At most this many reservations per batch. */
export const maxBatch = 64;

export const reserveBatchRequest = z.object({
  reservations: z
    .array(reserveRequest)
    .min(1)
    .max(maxBatch)
    .refine((batch) => new Set(batch.map((one) => one.orderId)).size === batch.length, {
      message: 'one reservation per order',
    }),
});

export const reserveBatchResponse = z.object({ results: z.array(reserveResponse) });

export const releaseResponse = z.object({
  orderId: id,
  /** `released` now; `already-released` by an earlier call; `not-reserved`: nothing was held. */
  status: z.enum(['released', 'already-released', 'not-reserved']),
  lines: z.array(z.object({ productId: id, quantity: z.int().min(1) })),
});

export const lookupRequest = z.object({
  ids: z
    .array(id)
    .min(1)
    .max(maxLines)
    .refine((ids) => new Set(ids).size === ids.length, { message: 'each id once' }),
});

/** What orders and carts need to know of a product. */
export const productSummary = z.object({
  id,
  sellerId: id,
  sku: z.string(),
  name: z.string(),
  priceCents: z.int().min(0),
  currency: z.string().regex(/^[A-Z]{3}$/),
  stock: z.int().min(0),
  status: z.enum(['draft', 'active', 'archived']),
  version: z.int().min(1),
});

/** Found products (any status: the caller decides what an archived one means) and missing ids. */
export const lookupResponse = z.object({
  products: z.array(productSummary),
  missing: z.array(id),
});

export type ReserveRequest = z.infer<typeof reserveRequest>;
export type ReserveResponse = z.infer<typeof reserveResponse>;
export type ReserveBatchRequest = z.infer<typeof reserveBatchRequest>;
export type ReserveBatchResponse = z.infer<typeof reserveBatchResponse>;
export type ReservedLine = z.infer<typeof reservedLine>;
export type ShortLine = z.infer<typeof shortLine>;
export type ReleaseResponse = z.infer<typeof releaseResponse>;
export type LookupRequest = z.infer<typeof lookupRequest>;
export type LookupResponse = z.infer<typeof lookupResponse>;
export type ProductSummary = z.infer<typeof productSummary>;
