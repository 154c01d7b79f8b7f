import type { Context } from 'koa';
import { badRequest } from '@sidecart/chassis';

const entityTag = /^(?:W\/)?"([^"]*)"$/;

/**
 * Whether `If-None-Match` names the current version (RFC 9110 §13.1.2: weak comparison; `*`
 * matches any current product). A header that is not a list of entity tags is a 400.
 */
export function matchesIfNoneMatch(ctx: Context, version: number): boolean {
  const header = ctx.get('if-none-match').trim();
  if (!header) return false;
  if (header === '*') return true;
  const tags = header.split(',').map((tag) => entityTag.exec(tag.trim())?.[1]);
  if (tags.length > 50 || tags.some((tag) => tag === undefined)) {
    throw badRequest('invalid-if-none-match', 'If-None-Match must list ETags such as "3"');
  }
  return tags.includes(String(version));
}
