import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { call, startApp, type AppUnderTest } from './support.ts';

let app: AppUnderTest | undefined;
afterEach(async () => {
  jest.useRealTimers();
  await app?.close();
  app = undefined;
});

const passing = () => Promise.resolve();

describe('GET /healthz', () => {
  test('answers 200 while the process lives, even when not ready', async () => {
    app = await startApp({ readiness: { database: () => Promise.reject(new Error('down')) } });
    app.lifecycle.isShuttingDown = true;

    const response = await call(app.url, 'GET', '/healthz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });
});

describe('GET /readyz', () => {
  test('answers 200 and lists the checks when they all pass', async () => {
    app = await startApp({ readiness: { database: passing, sidecar: passing } });

    const response = await call(app.url, 'GET', '/readyz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ready', checks: ['database', 'sidecar'] });
  });

  test('when a check throws, answers 503 not-ready naming only the failing check', async () => {
    app = await startApp({
      readiness: { database: passing, sidecar: () => Promise.reject(new Error('refused')) },
    });

    const response = await call(app.url, 'GET', '/readyz');

    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.body).toMatchObject({
      status: 503,
      code: 'not-ready',
      detail: 'Not ready: sidecar',
      failing: ['sidecar'],
    });
  });

  // Limited to 3 s so that a timeout that is not honoured fails here instead of hanging.
  test('when a check hangs past its timeout, answers 503 not-ready naming it', async () => {
    let checkStarted!: () => void;
    const started = new Promise<void>((resolve) => (checkStarted = resolve));
    const hanging = () => {
      checkStarted();
      return new Promise<never>(() => {});
    };
    app = await startApp({ readiness: { database: passing, sidecar: hanging } });
    // Only setTimeout is faked: the 2 s check timeout passes at once, HTTP I/O stays real.
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'hrtime'],
    });

    const pending = call(app.url, 'GET', '/readyz');
    await started;
    await jest.advanceTimersByTimeAsync(2_000);
    const response = await pending;

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: 'not-ready', failing: ['sidecar'] });
  }, 3_000);

  test('once the replica is shutting down, answers 503 shutting-down without running checks', async () => {
    const database = jest.fn(passing);
    app = await startApp({ readiness: { database } });
    app.lifecycle.isShuttingDown = true;

    const response = await call(app.url, 'GET', '/readyz');

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: 503, code: 'shutting-down' });
    expect(database).not.toHaveBeenCalled();
  });
});
