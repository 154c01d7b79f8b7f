import { z } from 'zod';
import { id, money, occurredAt, orderLine, reason, version } from './fields.ts';

export const orderConfirmed = z.object({
  orderId: id,
  userId: id,
  /** Prices as snapshotted from products when the stock was reserved. */
  lines: z.array(orderLine.extend({ unitPrice: money })).min(1),
  total: money,
  version,
  occurredAt,
});

/** Products releases the reserved stock of `lines` (idempotently, keyed by orderId). */
export const orderCancelled = z.object({
  orderId: id,
  userId: id,
  lines: z.array(orderLine).min(1),
  /** `customer-request`, `admin`, `user-deleted`, … */
  reason,
  version,
  occurredAt,
});

/**
 * The order could not be placed. Products releases anything it may have reserved for it (the
 * reservation may or may not exist: release is idempotent).
 */
export const orderFailed = z.object({
  orderId: id,
  userId: id,
  lines: z.array(orderLine).min(1),
  /** `reservation-rejected`, `reservation-timed-out`, … */
  reason,
  version,
  occurredAt,
});
