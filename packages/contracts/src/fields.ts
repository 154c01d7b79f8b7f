import { z } from 'zod';

/** Every id in sidecart is a UUID (auth issues v7, others v4 or v7). */
export const id = z.uuid();

/** When the change happened: ISO 8601 with an offset (`new Date().toISOString()`). */
export const occurredAt = z.iso.datetime({ offset: true });

/** The entity's optimistic-lock version after the change, so consumers can ignore stale news. */
export const version = z.int().min(1);

/** Money in minor units (cents), never floats, with its ISO 4217 currency. */
export const money = z.object({
  cents: z.int().min(0),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
});

/** A product and how many units of it; what products needs to release a reservation. */
export const orderLine = z.object({
  productId: id,
  quantity: z.int().min(1),
});

/**
 * Why something happened, kebab-case (`customer-request`, `reservation-timed-out`). A string and
 * not an enum: no consumer branches on it, so a producer may add reasons without breaking anyone.
 */
export const reason = z
  .string()
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'kebab-case')
  .max(64);

export const roles = z.enum(['customer', 'seller', 'admin']);
