import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { call, startApp, type AppUnderTest } from './support.ts';

const router = new Router()
  .get('/context', (ctx) => {
    ctx.body = { requestId: ctx.state.requestId, traceparent: ctx.state.traceparent };
  })
  .get('/context/twice', (ctx) => {
    const first = ctx.state.traceparent;
    ctx.state.log.debug('logging reads the trace id too');
    ctx.body = { first, second: ctx.state.traceparent };
  });

let app: AppUnderTest;
beforeAll(async () => {
  app = await startApp({ routers: [router] });
});
afterAll(() => app.close());

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const traceparentOf = (traceId: string, spanId = '00f067aa0ba902b7') =>
  `00-${traceId}-${spanId}-01`;
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('x-request-id', () => {
  test('a request without one gets a fresh UUID, on the response and in ctx.state', async () => {
    const response = await call(app.url, 'GET', '/context');

    expect(response.headers.get('x-request-id')).toMatch(uuid);
    expect(response.body.requestId).toBe(response.headers.get('x-request-id'));
  });

  test.each(['abc-123.def:9_x', 'r'.repeat(128)])('a sane incoming id (%s) is kept', async (id) => {
    const response = await call(app.url, 'GET', '/context', { headers: { 'x-request-id': id } });

    expect(response.headers.get('x-request-id')).toBe(id);
    expect(response.body.requestId).toBe(id);
  });

  test.each([
    ['too long', 'r'.repeat(129)],
    ['with a space', 'two words'],
    ['with markup', '<script>alert(1)</script>'],
    ['with a quote', `id"; drop`],
  ])('an incoming id %s is replaced', async (_case, id) => {
    const response = await call(app.url, 'GET', '/context', { headers: { 'x-request-id': id } });

    expect(response.headers.get('x-request-id')).toMatch(uuid);
  });

  test('error responses carry the request id too', async () => {
    const response = await call(app.url, 'GET', '/nowhere', {
      headers: { 'x-request-id': 'trace-me' },
    });

    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('trace-me');
  });
});

describe('traceparent', () => {
  test('a valid incoming traceparent keeps its trace id and flags with a new span id', async () => {
    const incoming = traceparentOf(traceId);

    const response = await call(app.url, 'GET', '/context', { headers: { traceparent: incoming } });

    const [version, trace, span, flags] = response.body.traceparent.split('-');
    expect([version, trace, flags]).toEqual(['00', traceId, '01']);
    expect(span).toMatch(/^[0-9a-f]{16}$/);
    expect(span).not.toBe('00f067aa0ba902b7');
  });

  test('one request keeps one span id, however often it is read', async () => {
    const cases: Record<string, string>[] = [{}, { traceparent: traceparentOf(traceId) }];
    for (const headers of cases) {
      const response = await call(app.url, 'GET', '/context/twice', { headers });

      expect(response.body.first).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(response.body.second).toBe(response.body.first);
    }
  });

  test('without a traceparent, each request starts its own trace', async () => {
    const first = await call(app.url, 'GET', '/context');
    const second = await call(app.url, 'GET', '/context');

    expect(first.body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(first.body.traceparent.slice(3, 35)).not.toBe(second.body.traceparent.slice(3, 35));
  });

  test.each([
    ['garbage', 'not-a-traceparent'],
    ['an all-zero trace id', traceparentOf('0'.repeat(32))],
    ['an all-zero parent id', traceparentOf(traceId, '0'.repeat(16))],
    ['upper-case hex', traceparentOf(traceId.toUpperCase())],
    ['an unknown version', `ff-${traceId}-00f067aa0ba902b7-01`],
  ])('an invalid traceparent (%s) starts a new trace', async (_case, incoming) => {
    const response = await call(app.url, 'GET', '/context', { headers: { traceparent: incoming } });

    expect(response.body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(response.body.traceparent.slice(3, 35)).not.toBe(traceId);
    expect(response.body.traceparent.slice(3, 35)).not.toMatch(/^0+$/);
  });
});

describe('the request logger', () => {
  /** A warn-level logger (as in production benchmarks) that records its lines and its children. */
  function recordingLogger() {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger: Logger = pino({ level: 'warn' }, sink);
    const children: Record<string, unknown>[] = [];
    const child = logger.child.bind(logger);
    logger.child = ((bindings: Record<string, unknown>, options?: object) => {
      children.push(bindings);
      return child(bindings, options);
    }) as Logger['child'];
    return { logger, lines, children };
  }

  test('is made only when the request logs, and then carries its request and trace ids', async () => {
    const { logger, lines, children } = recordingLogger();
    const routes = new Router()
      .get('/quiet', (ctx) => {
        ctx.body = { ok: true };
      })
      .get('/loud', (ctx) => {
        ctx.state.log.warn('something to say');
        ctx.state.log.warn('and more');
        ctx.body = { ok: true };
      });
    const logging = await startApp({ logger, routers: [routes] });
    try {
      for (let i = 0; i < 3; i++)
        expect((await call(logging.url, 'GET', '/quiet')).status).toBe(200);
      // Below the access log's level, nothing needed a logger of its own.
      expect(children).toEqual([]);

      const loud = await call(logging.url, 'GET', '/loud', {
        headers: { traceparent: traceparentOf(traceId) },
      });

      expect(loud.status).toBe(200);
      const requestId = loud.headers.get('x-request-id');
      expect(children).toEqual([{ reqId: requestId, traceId }]);
      const said = lines.filter((line) => line.reqId === requestId);
      expect(said.map((line) => [line.msg, line.traceId])).toEqual([
        ['something to say', traceId],
        ['and more', traceId],
      ]);
    } finally {
      await logging.close();
    }
  });
});
