import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { notFound } from '../src/errors.ts';
import { call, startApp, type AppUnderTest } from './support.ts';

const router = new Router()
  .get('/items/:id', (ctx) => {
    if (ctx.params.id === '0') throw notFound('item', 0);
    ctx.body = { id: ctx.params.id };
  })
  .post('/items', (ctx) => {
    ctx.status = 201;
    ctx.body = {};
  });

// A fresh app per test: each has its own registry, so counts start at zero.
let app: AppUnderTest;
beforeEach(async () => {
  app = await startApp({ routers: [router] });
});
afterEach(() => app.close());

/** The value of the sample `name{labels}` in a Prometheus text exposition, matching all labels. */
function sampleOf(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...match[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return Number(match[3]);
    }
  }
  return undefined;
}

describe('GET /metrics', () => {
  test('counts and times requests by method, route template and status', async () => {
    for (const id of ['1', '2', '3']) await call(app.url, 'GET', `/items/${id}`);
    await call(app.url, 'GET', '/items/0');
    await call(app.url, 'POST', '/items', { body: {} });
    await call(app.url, 'POST', '/items', { body: {} });
    await call(app.url, 'GET', '/no/such/path');

    const response = await call(app.url, 'GET', '/metrics');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text: string = response.body;
    const series = (method: string, route: string, status: string) => ({
      requests: sampleOf(text, 'http_requests_total', { method, route, status, service: 'test' }),
      timed: sampleOf(text, 'http_request_duration_seconds_count', { method, route, status }),
    });
    expect(series('GET', '/items/:id', '200')).toEqual({ requests: 3, timed: 3 });
    expect(series('GET', '/items/:id', '404')).toEqual({ requests: 1, timed: 1 });
    expect(series('POST', '/items', '201')).toEqual({ requests: 2, timed: 2 });
    expect(series('GET', 'unmatched', '404')).toEqual({ requests: 1, timed: 1 });
  });

  test('each scrape shows the running total of every series, counted once', async () => {
    const requestsOf = async (route: string) =>
      sampleOf((await call(app.url, 'GET', '/metrics')).body, 'http_requests_total', {
        method: 'GET',
        route,
        status: '200',
      });
    for (const id of ['1', '2']) await call(app.url, 'GET', `/items/${id}`);

    const first = await requestsOf('/items/:id');
    await call(app.url, 'GET', '/items/3');
    const second = await requestsOf('/items/:id');
    const third = await requestsOf('/items/:id');

    expect([first, second, third]).toEqual([2, 3, 3]);
    // The scrapes themselves, each counted once it has finished: two before the third.
    expect(await requestsOf('/metrics')).toBe(3);
  });

  test('never labels a series with a raw path', async () => {
    await call(app.url, 'GET', '/items/98765');
    await call(app.url, 'GET', '/some/random/98765');

    const response = await call(app.url, 'GET', '/metrics');

    expect(response.body).toMatch(/^http_requests_total\{/m);
    expect(response.body).not.toMatch(/98765/);
  });
});
