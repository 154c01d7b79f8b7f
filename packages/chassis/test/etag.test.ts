import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { etagOf, requireIfMatch } from '../src/http/etag.ts';
import { call, startApp, type AppUnderTest } from './support.ts';

const router = new Router().put('/things/1', (ctx) => {
  ctx.body = { expectedVersion: requireIfMatch(ctx) ?? 'any' };
});

let app: AppUnderTest;
beforeAll(async () => {
  app = await startApp({ routers: [router] });
});
afterAll(() => app.close());

const putWithIfMatch = (ifMatch?: string) =>
  call(app.url, 'PUT', '/things/1', {
    body: {},
    headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
  });

describe('etagOf', () => {
  test('quotes the version as a strong ETag', () => {
    expect(etagOf(3)).toBe('"3"');
  });
});

describe('requireIfMatch', () => {
  test('without If-Match, answers 428 if-match-required', async () => {
    const response = await putWithIfMatch();

    expect(response.status).toBe(428);
    expect(response.body).toMatchObject({ status: 428, code: 'if-match-required' });
  });

  test.each([
    ['"3"', 3],
    ['W/"3"', 3],
    [' "12" ', 12],
    [etagOf(7), 7],
    ['*', 'any'],
  ])('reads If-Match %j as %j', async (ifMatch, expected) => {
    const response = await putWithIfMatch(ifMatch);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ expectedVersion: expected });
  });

  test.each(['garbage', '3', '"3", "4"', '"abc"', '"1234567890"', 'W/3'])(
    'refuses If-Match %j with 400 invalid-if-match',
    async (ifMatch) => {
      const response = await putWithIfMatch(ifMatch);

      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ status: 400, code: 'invalid-if-match' });
    },
  );
});
