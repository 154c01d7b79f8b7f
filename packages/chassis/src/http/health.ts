import Router from '@koa/router';
import { AppError, serviceUnavailable } from '../errors.ts';

/** A dependency the service cannot serve without (the database, later the sidecar). */
export type ReadinessCheck = () => Promise<unknown>;

export interface Lifecycle {
  isShuttingDown: boolean;
}

const checkTimeoutMs = 2_000;

/** `/healthz` says the process lives; `/readyz` says it should get traffic now. */
export function healthRoutes(lifecycle: Lifecycle, checks: Record<string, ReadinessCheck>): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    if (lifecycle.isShuttingDown)
      throw serviceUnavailable('shutting-down', 'This replica is shutting down');
    const failing: string[] = [];
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), checkTimeoutMs);
        } catch (error) {
          ctx.state.log.warn({ err: error, check: name }, 'readiness check failed');
          failing.push(name);
        }
      }),
    );
    if (failing.length > 0) {
      throw new AppError(503, 'not-ready', `Not ready: ${failing.sort().join(', ')}`, {
        headers: { 'retry-after': '1' },
        extensions: { failing },
      });
    }
    ctx.body = { status: 'ready', checks: Object.keys(checks) };
  });
  return router;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
