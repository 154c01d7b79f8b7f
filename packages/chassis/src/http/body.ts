import type { Middleware } from 'koa';
import { HttpMethodEnum, koaBody } from 'koa-body';
import { AppError } from '../errors.ts';

const parsedMethods = [HttpMethodEnum.POST, HttpMethodEnum.PUT, HttpMethodEnum.PATCH];
const methodsWithBody = new Set<string>(parsedMethods);

/** JSON bodies only, size-capped; anything else that carries a body gets 415. */
export function jsonBody(limitBytes: number): Middleware[] {
  const requireJson: Middleware = async (ctx, next) => {
    if (
      methodsWithBody.has(ctx.method) &&
      ctx.request.length &&
      !ctx.is('application/json', '+json')
    ) {
      throw new AppError(415, 'unsupported-media-type', 'Send the body as application/json');
    }
    await next();
  };
  const parse = koaBody({
    json: true,
    jsonLimit: limitBytes,
    jsonStrict: true,
    text: false,
    urlencoded: false,
    multipart: false,
    parsedMethods,
  }) as Middleware;
  return [requireJson, parse];
}
