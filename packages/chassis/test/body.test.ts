import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { call, startApp, type AppUnderTest } from './support.ts';

const router = new Router().post('/echo', (ctx) => {
  ctx.body = { received: ctx.request.body };
});

let app: AppUnderTest;
beforeAll(async () => {
  app = await startApp({ routers: [router], bodyLimitBytes: 1024 });
});
afterAll(() => app.close());

describe('JSON request bodies', () => {
  test('a JSON body within the limit reaches the route parsed', async () => {
    const body = { note: 'n'.repeat(900) };

    const response = await call(app.url, 'POST', '/echo', { body });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: body });
  });

  test('a +json media type is accepted as JSON', async () => {
    const response = await call(app.url, 'POST', '/echo', {
      body: { op: 'replace' },
      headers: { 'content-type': 'application/merge-patch+json' },
    });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: { op: 'replace' } });
  });

  const refused: [string, Parameters<typeof call>[3], number, string][] = [
    ['malformed JSON', { rawBody: '{"sku": "a", ' }, 400, 'malformed-json'],
    ['a bare JSON string', { rawBody: '"hello"' }, 400, 'malformed-json'],
    ['a body over bodyLimitBytes', { body: { note: 'n'.repeat(2000) } }, 413, 'payload-too-large'],
    [
      'a text/plain body',
      { rawBody: 'hello', headers: { 'content-type': 'text/plain' } },
      415,
      'unsupported-media-type',
    ],
    [
      'a form body',
      { rawBody: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      'unsupported-media-type',
    ],
  ];

  test.each(refused)('%s → %i problem+json', async (_name, request, status, code) => {
    const response = await call(app.url, 'POST', '/echo', request);

    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status, code, detail: expect.any(String) });
  });

  test('a chunked non-JSON body (no content-length) is refused with 415 too', async () => {
    const chunks = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('hello'));
        controller.close();
      },
    });

    const response = await fetch(`${app.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);

    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ code: 'unsupported-media-type' });
  });

  test('a body sent to a probe path that takes none gets the same checks: 415 for non-JSON', async () => {
    const response = await fetch(`${app.url}/healthz`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });

    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ code: 'unsupported-media-type' });
  });
});

describe('NUL characters (PostgreSQL text cannot hold them)', () => {
  test.each([
    ['in a nested value', { a: { b: ['ok', 'x\u0000y'] } }, '/a/b/1'],
    ['in a key', { ['k\u0000']: 1 }, '/k\u0000'],
  ])('%s → 400 invalid-characters pointing at it', async (_name, body, pointer) => {
    const response = await call(app.url, 'POST', '/echo', { body });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-characters', errors: [{ pointer }] });
  });

  test('in the URL → 400, before any route runs', async () => {
    const response = await call(app.url, 'POST', '/echo?q=%00', { body: {} });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid-characters');
  });
});

describe('deeply nested JSON', () => {
  test('nesting past 32 levels → 400 too-deeply-nested, not a stack overflow', async () => {
    const response = await call(app.url, 'POST', '/echo', {
      rawBody: `${'['.repeat(400)}${']'.repeat(400)}`,
    });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('too-deeply-nested');
  });

  test('32 levels are fine', async () => {
    const body = JSON.parse(`${'{"a":'.repeat(31)}1${'}'.repeat(31)}`);

    const response = await call(app.url, 'POST', '/echo', { body });

    expect(response.status).toBe(200);
  });
});

describe('compressed bodies', () => {
  test.each(['gzip', 'deflate', 'br'])(
    'a body that claims %s but is not → 400 malformed-body',
    async (encoding) => {
      const response = await call(app.url, 'POST', '/echo', {
        rawBody: 'not compressed at all',
        headers: { 'content-encoding': encoding },
      });

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('malformed-body');
    },
  );

  test('a real gzip body is inflated and parsed', async () => {
    const response = await fetch(`${app.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ ok: 1 })),
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: { ok: 1 } });
  });
});
