import type { Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from '../logger.ts';

export interface HttpMetrics {
  registry: Registry;
  /** Counts and times every request by method, route template and status; writes the access log. */
  middleware: Middleware;
}

/** Probes and scrapes come every few seconds: they would drown the access log. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);

interface Series {
  labels: { method: string; route: string; status: number };
  /** Requests finished so far; the counter takes them over on scrape. */
  finished: number;
  counted: number;
  duration: { observe: (seconds: number) => void };
}

/**
 * One registry per app, so tests can build many apps in one process. `logger` decides whether the
 * access log is written at all, so a request below its level never makes its own logger.
 */
export function createHttpMetrics(service: string, logger?: Logger): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // The event-loop lag monitor samples every 100 ms, not prom-client's 10: a stall still delays the
  // pending sample and is recorded, and an idle replica stops spending ~4 ms of CPU a second on it.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const labelNames = ['method', 'route', 'status'] as const;
  const all: Series[] = [];
  new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests handled, by method, route template and status',
    labelNames,
    registers: [registry],
    // Counted in plain numbers and handed over when scraped: prom-client validates and hashes the
    // labels on every inc(), which a cached read paid for once more beside the histogram's.
    collect() {
      for (const series of all) {
        if (series.finished === series.counted) continue;
        this.inc(series.labels, series.finished - series.counted);
        series.counted = series.finished;
      }
    },
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // The series of each (route, status, method), made once: the set is bounded (Node parses only
  // known methods, routes are templates, statuses are few). Nested maps, so that finding one
  // builds no key string per request.
  const byRoute = new Map<string, Map<number, Map<string, Series>>>();
  const seriesOf = (method: string, route: string, status: number): Series => {
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let byMethod = byStatus.get(status);
    if (!byMethod) byStatus.set(status, (byMethod = new Map()));
    let found = byMethod.get(method);
    if (!found) {
      const labels = { method, route, status };
      found = { labels, finished: 0, counted: 0, duration: duration.labels(labels) };
      byMethod.set(method, found);
      all.push(found);
    }
    return found;
  };

  const middleware: Middleware = async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      // Templates, not raw paths, keep the label set bounded (`/users/:id`, never `/users/42`).
      const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      const route = matched ? String(matched) : 'unmatched';
      const labelled = seriesOf(ctx.method, route, ctx.status);
      labelled.finished += 1;
      labelled.duration.observe(ms / 1000);
      const level = quietPaths.has(ctx.path) ? 'debug' : 'info';
      if (!logger || logger.isLevelEnabled(level)) {
        ctx.state.log?.[level](
          { method: ctx.method, path: ctx.path, route, status: ctx.status, ms },
          'request',
        );
      }
    }
  };
  return { registry, middleware };
}
