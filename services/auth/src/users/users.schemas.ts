import { notFound } from '@sidecart/chassis';
import { z } from 'zod';
import { accountTypes, roles } from './user.entity.ts';

export const registerBody = z.strictObject({
  email: z.email().max(254).toLowerCase(),
  password: z.string().min(8).max(256),
  name: z.string().trim().min(1).max(100),
  accountType: z.enum(accountTypes).default('customer'),
});

export const updateUserBody = z.strictObject({
  roles: z.array(z.enum(roles)).min(1).max(roles.length),
});

export const listUsersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.uuid().optional(),
  email: z.string().trim().toLowerCase().max(254).optional(),
});

/** An id that is not a UUID names no user: 404, and never a database cast error. */
export function parseUserId(raw: string | undefined): string {
  const parsed = z.uuid().safeParse(raw);
  if (!parsed.success) throw notFound('user');
  return parsed.data;
}
