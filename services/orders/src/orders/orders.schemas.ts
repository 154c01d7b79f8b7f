import { badRequest, notFound } from '@sidecart/chassis';
import { maxLines } from '@sidecart/contracts';
import { z } from 'zod';
import { orderStatuses } from './order.entity.ts';

/** Order and cart lines: one per product, a sane quantity, at most what products reserves at once. */
export const lineItems = z
  .array(
    z.strictObject({
      productId: z.uuid(),
      quantity: z.int().min(1).max(1_000),
    }),
  )
  .max(maxLines)
  .refine((items) => new Set(items.map((item) => item.productId)).size === items.length, {
    message: 'one line per product',
  });

export const placeOrderBody = z.strictObject({ items: lineItems.min(1) });

export const listOrdersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.uuid().optional(),
  status: z.enum(orderStatuses).optional(),
  userId: z.uuid().optional(),
});

export const changeStatusBody = z.strictObject({ status: z.enum(orderStatuses) });

/** An id that is not a UUID names no order: 404, and never a database cast error. */
export function parseOrderId(raw: string | undefined): string {
  const parsed = z.uuid().safeParse(raw);
  if (!parsed.success) throw notFound('order');
  return parsed.data;
}

const keyPattern = /^[\x21-\x7e]{1,255}$/;

/** `Idempotency-Key`: optional, 1–255 visible ASCII characters (a UUID is typical). */
export function parseIdempotencyKey(raw: string): string | undefined {
  if (raw === '') return undefined;
  if (!keyPattern.test(raw)) {
    throw badRequest(
      'invalid-idempotency-key',
      'Idempotency-Key must be 1 to 255 visible ASCII characters',
    );
  }
  return raw;
}
