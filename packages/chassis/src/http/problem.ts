import type { Context, Middleware } from 'koa';
import { NotFoundError, OptimisticLockError } from '@mikro-orm/core';
import { ZodError } from 'zod';
import { DaprError, isUnavailable } from '../dapr/errors.ts';
import { AppError, pointerSegment, type ProblemField } from '../errors.ts';
import { isConnectionFailure } from '../orm/connection-failure.ts';

const codeByStatus: Record<number, string> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
};

/** The central error translator: first in the chain, it turns every failure into problem+json. */
export function problemTranslator(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status >= 400 && ctx.body === undefined) throw bodilessError(ctx);
    } catch (error) {
      const problem = toAppError(error);
      const log = ctx.state.log ?? console;
      if (problem.status >= 500) log.error({ err: error }, 'request failed');
      writeProblem(ctx, problem);
    }
  };
}

/**
 * An error status set without a body: no route (404), or the router's 405/501. A method the
 * router does not know at all (TRACE) is the client's mistake too: 405, never a 5xx.
 */
function bodilessError(ctx: Context): AppError {
  if (ctx.status === 404) {
    return new AppError(404, 'not-found', `No route for ${ctx.method} ${ctx.path}`);
  }
  if (ctx.status === 405 || ctx.status === 501) {
    return new AppError(405, 'method-not-allowed', `${ctx.method} is not allowed here`);
  }
  return new AppError(ctx.status, codeByStatus[ctx.status] ?? 'error', ctx.message);
}

export function writeProblem(ctx: Context, error: AppError): void {
  ctx.status = error.status;
  // A problem is not the resource: an ETag a route set before it failed would say it was.
  ctx.remove('etag');
  ctx.set(error.headers ?? {});
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: `urn:sidecart:problem:${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    instance: ctx.path,
    ...(error.errors ? { errors: error.errors } : {}),
    ...error.extensions,
  };
}

export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) {
    return new AppError(400, 'validation-failed', 'The request is not valid', {
      errors: error.issues.map(toProblemField),
    });
  }
  if (error instanceof OptimisticLockError) {
    return new AppError(412, 'version-mismatch', 'The resource was changed by someone else');
  }
  if (error instanceof NotFoundError) return new AppError(404, 'not-found', 'Not found');
  // A Dapr call that failed is never the client's fault, whatever status the callee answered.
  if (error instanceof DaprError) {
    return isUnavailable(error)
      ? new AppError(503, 'dependency-unavailable', 'A service this request needs is unavailable', {
          headers: { 'Retry-After': '1' },
          cause: error,
        })
      : new AppError(502, 'dependency-failed', 'A service this request needs failed', {
          cause: error,
        });
  }
  // A dropped database connection is transient: the pool has discarded it, a retry gets a new one.
  if (isConnectionFailure(error)) {
    return new AppError(503, 'database-unavailable', 'The database is unavailable; try again', {
      headers: { 'Retry-After': '1' },
      cause: error,
    });
  }
  const status = httpStatusOf(error);
  if (status !== undefined && status < 500) {
    const code = isJsonParseError(error)
      ? 'malformed-json'
      : (codeByStatus[status] ?? 'bad-request');
    return new AppError(status, code, safeMessage(error, status), {
      headers: (error as { headers?: Record<string, string> }).headers,
    });
  }
  return new AppError(500, 'internal-error', 'An unexpected error occurred', { cause: error });
}

function toProblemField(issue: ZodError['issues'][number]): ProblemField {
  const pointer = issue.path.map((part) => pointerSegment(String(part))).join('');
  return { pointer: pointer || '/', message: issue.message, code: issue.code };
}

function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

function isJsonParseError(error: unknown): boolean {
  return (
    (error as { type?: string }).type === 'entity.parse.failed' || error instanceof SyntaxError
  );
}

/** http-errors marks client-safe messages with `expose`; anything else gets a generic text. */
function safeMessage(error: unknown, status: number): string {
  if (isJsonParseError(error)) return 'The request body is not valid JSON';
  if (status === 413) return 'The request body is too large';
  const { expose, message } = error as { expose?: boolean; message?: string };
  return expose && message ? message : 'The request could not be processed';
}
