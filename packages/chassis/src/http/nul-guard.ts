import type { Middleware } from 'koa';
import { badRequest } from '../errors.ts';


/**
 * PostgreSQL text cannot hold U+0000: a NUL anywhere in the input would reach the database as
 * an error (a 500 on user input). No legitimate request needs one, so it is refused up front.
 */
export function rejectNulCharacters(): Middleware {
  return async (ctx, next) => {
    if (/%00/.test(ctx.url) || ctx.url.includes('\u0000')) {
      throw badRequest('invalid-characters', 'The URL must not contain NUL characters');
    }
    const pointer = findNul(ctx.request.body, '');
    if (pointer !== undefined) {
      throw badRequest('invalid-characters', 'Text must not contain NUL characters', {
        errors: [
          {
            pointer: pointer || '/',
            message: 'contains a NUL character',
            code: 'invalid-characters',
          },
        ],
      });
    }
    await next();
  };
}

function findNul(value: unknown, pointer: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? pointer : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const path = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (key.includes('\u0000')) return path;
    const found = findNul(child, path);
    if (found !== undefined) return found;
  }
  return undefined;
}
