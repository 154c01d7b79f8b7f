import type { Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface HttpMetrics {
  registry: Registry;
  /** Counts and times every request by method, route template and status; writes the access log. */
  middleware: Middleware;
}

/** Probes and scrapes come every few seconds: they would drown the access log. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);

/** One registry per app, so tests can build many apps in one process. */
export function createHttpMetrics(service: string): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // The event-loop lag monitor samples every 100 ms, not prom-client's 10: a stall still delays the
  // pending sample and is recorded, and an idle replica stops spending ~4 ms of CPU a second on it.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests handled, by method, route template and status',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const middleware: Middleware = async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // Templates, not raw paths, keep the label set bounded (`/users/:id`, never `/users/42`).
      const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      const labels = {
        method: ctx.method,
        route: matched ? String(matched) : 'unmatched',
        status: ctx.status,
      };
      requests.inc(labels);
      duration.observe(labels, seconds);
      const level = quietPaths.has(ctx.path) ? 'debug' : 'info';
      ctx.state.log?.[level](
        {
          method: ctx.method,
          path: ctx.path,
          route: labels.route,
          status: ctx.status,
          ms: seconds * 1000,
        },
        'request',
      );
    }
  };
  return { registry, middleware };
}
