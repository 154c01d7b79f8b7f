import type { Middleware } from 'koa';
import { HttpMethodEnum, koaBody } from 'koa-body';
import { AppError } from '../errors.ts';
import { guardInput, guardUrl } from './input-guard.ts';

const parsedMethods = [HttpMethodEnum.POST, HttpMethodEnum.PUT, HttpMethodEnum.PATCH];
const methodsWithBody = new Set<string>(parsedMethods);
/** The same list for the 415 check and the parser, or an accepted body would reach routes as {}. */
const jsonTypes = ['application/json', '+json'];

/** JSON bodies only, size-capped, guarded (input-guard.ts); anything else that carries a body gets 415. */
export function jsonBody(limitBytes: number): Middleware {
  const requireJson: Middleware = async (ctx, next) => {
    // A chunked body has no content-length but is a body all the same.
    const hasBody = Boolean(ctx.request.length || ctx.get('transfer-encoding'));
    if (hasBody && !ctx.is(jsonTypes)) {
      throw new AppError(415, 'unsupported-media-type', 'Send the body as application/json');
    }
    await next();
  };
  const parse = koaBody({
    json: true,
    jsonTypes,
    jsonLimit: limitBytes,
    jsonStrict: true,
    text: false,
    urlencoded: false,
    multipart: false,
    parsedMethods,
    onError: rethrowParseError,
  }) as Middleware;
  const guard = guardInput();
  // Only these methods get a body parsed; the others skip the 415 check, koa-body (which inspects
  // the content type four times before it looks at the method) and the walk of an absent body.
  const parseBody: Middleware = (ctx, next) =>
    requireJson(ctx, () => parse(ctx, () => guard(ctx, next)));
  return (ctx, next) => {
    if (methodsWithBody.has(ctx.method)) return parseBody(ctx, next);
    guardUrl(ctx.url);
    return next();
  };
}

/**
 * Parse failures that carry an HTTP status (400 bad JSON, 413, 415 charset) go on as they are;
 * anything else came from reading the body itself — a gzip/deflate/br body that is not — and is
 * the client's fault as well.
 */
function rethrowParseError(error: Error & { status?: number }): never {
  if (typeof error.status === 'number' && error.status < 500) throw error;
  throw new AppError(400, 'malformed-body', 'The request body could not be read (bad encoding?)', {
    cause: error,
  });
}
