import { z } from 'zod';
import { id, occurredAt, roles } from './fields.ts';

export const userRegistered = z.object({
  userId: id,
  email: z.email(),
  name: z.string().min(1),
  accountType: z.enum(['customer', 'seller']),
  roles: z.array(roles).min(1),
  occurredAt,
});

/** Products archives the user's products (when a seller); orders cancels open orders, drops the cart. */
export const userDeleted = z.object({
  userId: id,
  /** The roles the user had, so consumers can skip work that cannot apply (a customer sells nothing). */
  roles: z.array(roles),
  occurredAt,
});
