import { connect } from 'node:net';
import { describe, expect, jest, test } from '@jest/globals';
import Router from '@koa/router';
import { createApp } from '../src/app.ts';
import { serve } from '../src/server.ts';
import { listen, silentLogger } from '../src/testing/index.ts';
import { call } from './support.ts';

/** A service whose GET /slow waits until the test releases it. */
async function startSlowService(graceMs: number) {
  let entered!: () => void;
  let release!: () => void;
  const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const router = new Router().get('/slow', async (ctx) => {
    entered();
    await released;
    ctx.body = { done: true };
  });
  const logger = silentLogger();
  const { app, lifecycle } = createApp({ service: 'test', logger, routers: [router] });
  const onClose = jest.fn(() => Promise.resolve());
  const running = await serve({
    app,
    lifecycle,
    logger,
    host: '127.0.0.1',
    port: 0,
    graceMs,
    onClose,
    handleSignals: false,
  });
  const url = `http://127.0.0.1:${running.port}`;
  return { app, lifecycle, running, url, onClose, handlerEntered, release };
}

/** Resolves when a TCP connection to the port is accepted, rejects when it is refused. */
const tryConnect = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });

describe('serve() and shutdown()', () => {
  test('listens on the port it reports', async () => {
    const service = await startSlowService(1_000);

    const response = await call(service.url, 'GET', '/healthz');

    expect(service.running.port).toBeGreaterThan(0);
    expect(response.status).toBe(200);
    await service.running.shutdown('test over');
  });

  // The grace (10 s) is longer than the test may take: a drain that waits it out fails here.
  test('lets an in-flight request finish, refuses new connections, then runs onClose once', async () => {
    const service = await startSlowService(10_000);
    const inFlight = fetch(`${service.url}/slow`);
    await service.handlerEntered;

    const stopping = service.running.shutdown('test');
    const stoppingAgain = service.running.shutdown('test again');

    expect(service.lifecycle.isShuttingDown).toBe(true);
    await expect(tryConnect(service.running.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(service.onClose).not.toHaveBeenCalled();
    service.release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
    await Promise.all([stopping, stoppingAgain]);
    expect(service.onClose).toHaveBeenCalledTimes(1);
  }, 5_000);

  test('readiness turns 503 shutting-down as soon as shutdown starts', async () => {
    const service = await startSlowService(10_000);
    // The served port stops accepting at once, so look at /readyz through a second listener.
    const probe = await listen(service.app);
    const inFlight = fetch(`${service.url}/slow`);
    await service.handlerEntered;

    const stopping = service.running.shutdown('test');
    const readiness = await call(probe.url, 'GET', '/readyz');

    expect(readiness.status).toBe(503);
    expect(readiness.body).toMatchObject({ code: 'shutting-down' });
    service.release();
    await inFlight;
    await stopping;
    await probe.close();
  });

  test('cuts a request that outlives the grace period, and still runs onClose', async () => {
    const service = await startSlowService(50);
    const inFlight = fetch(`${service.url}/slow`);
    await service.handlerEntered;

    await service.running.shutdown('test');

    await expect(inFlight).rejects.toThrow();
    expect(service.onClose).toHaveBeenCalledTimes(1);
    service.release();
  });
});
