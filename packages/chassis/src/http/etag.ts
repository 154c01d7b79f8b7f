import type { Context } from 'koa';
import { badRequest, preconditionRequired } from '../errors.ts';

/** The strong ETag of a row version (MikroORM's optimistic-lock counter). */
export const etagOf = (version: number) => `"${version}"`;

const ifMatchPattern = /^(?:W\/)?"(\d{1,9})"$/;

/**
 * Reads the version a client last saw from `If-Match`: missing → 428. `*` (any current version,
 * RFC 9110) returns undefined: apply the change to the version read in the writing transaction,
 * under a row lock (`LockMode.PESSIMISTIC_WRITE`), or a concurrent writer turns `*` into a 412.
 * Several tags or garbage → 400, since no version could be meant.
 */
export function requireIfMatch(ctx: Context): number | undefined {
  const header = ctx.get('if-match').trim();
  if (!header) throw preconditionRequired();
  if (header === '*') return undefined;
  const match = ifMatchPattern.exec(header);
  if (!match) throw badRequest('invalid-if-match', 'If-Match must be one ETag such as "3"');
  return Number(match[1]);
}
