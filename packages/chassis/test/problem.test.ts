import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { NotFoundError, OptimisticLockError } from '@mikro-orm/core';
import { pino } from 'pino';
import { z } from 'zod';
import { DaprError } from '../src/dapr/errors.ts';
import { AppError } from '../src/errors.ts';
import { call, startApp, type AppUnderTest } from './support.ts';

const orderSchema = z.strictObject({
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).min(1),
  'ship/to': z.string(),
});

const router = new Router()
  .get('/app-error', () => {
    throw new AppError(409, 'out-of-stock', 'Only 2 left', {
      headers: { 'retry-after': '5' },
      extensions: { available: 2 },
    });
  })
  .post('/orders', (ctx) => {
    orderSchema.parse(ctx.request.body);
    ctx.status = 204;
  })
  .get('/stale', () => {
    throw OptimisticLockError.lockFailed('Order');
  })
  .get('/missing', () => {
    throw NotFoundError.findOneFailed('Order', { id: 42 });
  })
  .get('/exposed', (ctx) => {
    ctx.throw(400, 'sku must be lower case');
  })
  .get('/crash', () => {
    throw new Error('secret internals');
  })
  .get('/dapr-404', () => {
    throw new DaprError(404, 'the callee answered 404', { errorCode: undefined });
  })
  .get('/dapr-down', () => {
    throw new DaprError(500, 'failed to invoke', { errorCode: 'ERR_DIRECT_INVOKE' });
  })
  .get('/tagged-then-failed', (ctx) => {
    ctx.set('etag', '"7"');
    throw new AppError(503, 'dependency-unavailable', 'Try again shortly');
  })
  .get('/items/:id', (ctx) => {
    ctx.body = { id: ctx.params.id };
  });

const logLines: string[] = [];
const logger = pino({ level: 'error' }, { write: (line: string) => void logLines.push(line) });

let app: AppUnderTest;
beforeAll(async () => {
  app = await startApp({ logger, routers: [router] });
});
afterAll(() => app.close());

describe('the problem translator', () => {
  test('an AppError becomes problem+json with its status, code, headers and extensions', async () => {
    const response = await call(app.url, 'GET', '/app-error');

    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.body).toEqual({
      type: 'urn:sidecart:problem:out-of-stock',
      title: 'Conflict',
      status: 409,
      detail: 'Only 2 left',
      code: 'out-of-stock',
      instance: '/app-error',
      available: 2,
    });
  });

  test('a problem never carries the ETag a route set before it failed', async () => {
    const response = await call(app.url, 'GET', '/tagged-then-failed');

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: 'dependency-unavailable' });
    expect(response.headers.get('etag')).toBeNull();
    expect(response.headers.get('x-request-id')).not.toBeNull();
  });

  test('a ZodError becomes 400 validation-failed with a JSON pointer per issue', async () => {
    const response = await call(app.url, 'POST', '/orders', {
      body: {
        items: [
          { sku: 'a', quantity: 1 },
          { sku: 'b', quantity: 0 },
        ],
      },
    });

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 400, code: 'validation-failed' });
    expect(response.body.errors).toEqual([
      { pointer: '/items/1/quantity', code: 'too_small', message: expect.any(String) },
      { pointer: '/ship~1to', code: 'invalid_type', message: expect.any(String) },
    ]);
  });

  test('a zod issue about the whole body points at the root', async () => {
    const response = await call(app.url, 'POST', '/orders', { body: [] });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { pointer: '/', code: 'invalid_type', message: expect.any(String) },
    ]);
  });

  test('a MikroORM OptimisticLockError becomes 412 version-mismatch', async () => {
    const response = await call(app.url, 'GET', '/stale');

    expect(response.status).toBe(412);
    expect(response.body).toMatchObject({ status: 412, code: 'version-mismatch' });
  });

  test('a MikroORM NotFoundError becomes 404 without echoing the query', async () => {
    const response = await call(app.url, 'GET', '/missing');

    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ status: 404, code: 'not-found', detail: 'Not found' });
  });

  test('an http-errors client error keeps its exposed message', async () => {
    const response = await call(app.url, 'GET', '/exposed');

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'bad-request', detail: 'sku must be lower case' });
  });

  test('any other error becomes a 500 that reveals nothing internal, and is logged', async () => {
    const response = await call(app.url, 'GET', '/crash');

    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 500, code: 'internal-error' });
    expect(JSON.stringify(response.body)).not.toMatch(/secret|stack|Error:/);
    const logged = logLines.map((line) => JSON.parse(line));
    expect(logged).toContainEqual(
      expect.objectContaining({
        msg: 'request failed',
        err: expect.objectContaining({ message: 'secret internals' }),
      }),
    );
  });

  test('an unknown route is a 404 problem', async () => {
    const response = await call(app.url, 'GET', '/nowhere');

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 404, code: 'not-found', instance: '/nowhere' });
  });

  test('a known route with the wrong method is a 405 problem that says what is allowed', async () => {
    const response = await call(app.url, 'DELETE', '/items/42');

    expect(response.status).toBe(405);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('allow')).toMatch(/\bGET\b/);
    expect(response.body).toMatchObject({ status: 405, code: 'method-not-allowed' });
  });

  test('a method the router does not know (TRACE) is a 405 too, never a 5xx', async () => {
    const { request } = await import('node:http');
    const answer = await new Promise<{ status?: number; type?: string }>((resolve, reject) => {
      request(`${app.url}/items/42`, { method: 'TRACE' }, (response) => {
        response.resume();
        resolve({ status: response.statusCode, type: response.headers['content-type'] });
      })
        .on('error', reject)
        .end();
    });

    expect(answer).toEqual({
      status: 405,
      type: expect.stringMatching(/^application\/problem\+json/),
    });
  });

  test('a matched route still answers normally', async () => {
    const response = await call(app.url, 'GET', '/items/42');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id: '42' });
  });

  test("a failed Dapr call is never the client's fault: 502, or 503 + Retry-After", async () => {
    const failed = await call(app.url, 'GET', '/dapr-404');
    expect(failed.status).toBe(502);
    expect(failed.body).toMatchObject({ code: 'dependency-failed', status: 502 });

    const down = await call(app.url, 'GET', '/dapr-down');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.body).toMatchObject({ code: 'dependency-unavailable', status: 503 });
  });
});
