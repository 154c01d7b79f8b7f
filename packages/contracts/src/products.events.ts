import { z } from 'zod';
import { id, money, occurredAt, reason, version } from './fields.ts';

/** The catalog facts of a product; created and updated events carry all of them (state transfer). */
const productSnapshot = z.object({
  productId: id,
  sellerId: id,
  name: z.string().min(1),
  price: money,
  status: z.enum(['draft', 'active', 'archived']),
  version,
  occurredAt,
});

export const productCreated = productSnapshot;

export const productUpdated = productSnapshot;

export const productArchived = z.object({
  productId: id,
  sellerId: id,
  /** `archived-by-owner`, `seller-deleted`, … */
  reason,
  version,
  occurredAt,
});
