import type { Middleware } from 'koa';
import { badRequest, pointerSegment } from '../errors.ts';

/** No API body nests deeper; anything deeper is an attack on recursive code further down. */
const maxDepth = 32;

/**
 * Refuses input no route can use safely: U+0000 anywhere (PostgreSQL text cannot hold it, so it
 * would surface as a database 500) and JSON nested deeper than `maxDepth` (recursive code on it
 * would overflow the stack).
 */
export function guardInput(): Middleware {
  return async (ctx, next) => {
    guardUrl(ctx.url);
    checkJson(ctx.request.body);
    await next();
  };
}

/** The URL part of the guard, for requests that carry no body. */
export function guardUrl(url: string): void {
  if (url.includes('%00') || url.includes('\u0000')) {
    throw badRequest('invalid-characters', 'The URL must not contain NUL characters');
  }
}

/** Walks the value with an explicit stack, so its own depth is no risk. */
function checkJson(body: unknown): void {
  const pending: { value: unknown; pointer: string; depth: number }[] = [
    { value: body, pointer: '', depth: 0 },
  ];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { value, pointer, depth } = item;
    if (typeof value === 'string' && value.includes('\u0000')) throw nulIn(pointer);
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) {
      throw badRequest('too-deeply-nested', `JSON must not nest deeper than ${maxDepth} levels`);
    }
    for (const [key, child] of Object.entries(value)) {
      const path = pointer + pointerSegment(key);
      if (key.includes('\u0000')) throw nulIn(path);
      pending.push({ value: child, pointer: path, depth: depth + 1 });
    }
  }
}

const nulIn = (pointer: string) =>
  badRequest('invalid-characters', 'Text must not contain NUL characters', {
    errors: [
      { pointer: pointer || '/', message: 'contains a NUL character', code: 'invalid-characters' },
    ],
  });
