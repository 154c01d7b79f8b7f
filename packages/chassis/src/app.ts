import Koa, { type Middleware } from 'koa';
import type Router from '@koa/router';
import type { Logger } from './logger.ts';
import { jsonBody } from './http/body.ts';
import { healthRoutes, type Lifecycle, type ReadinessCheck } from './http/health.ts';
import { createHttpMetrics, type HttpMetrics } from './http/metrics.ts';
import { problemTranslator } from './http/problem.ts';
import { requestContext } from './http/request-context.ts';

export interface CreateAppOptions {
  service: string;
  logger: Logger;
  /** Feature routers, mounted in order after the chassis' own routes. */
  routers: Router[];
  /** Run for every feature request before the routers (e.g. the ORM request context). */
  middleware?: Middleware[];
  readiness?: Record<string, ReadinessCheck>;
  bodyLimitBytes?: number;
}

export interface ServiceApp {
  app: Koa;
  lifecycle: Lifecycle;
  metrics: HttpMetrics;
}

const chassisPaths = /^\/(?:healthz|readyz|metrics)\/?$/i;

/** Builds a service's Koa app with the chassis around its routes; never listens (tests use it). */
export function createApp(options: CreateAppOptions): ServiceApp {
  // Not `proxy: true`: Koa would then believe X-Forwarded-* from any sender for ctx.ip and
  // ctx.host (and parse them on every routing). The one consumer of the client address, the rate
  // limiter, reads X-Forwarded-For itself, from trusted proxies only (http/client-address.ts).
  const app = new Koa();
  const lifecycle: Lifecycle = { isShuttingDown: false };
  const metrics = createHttpMetrics(options.service, options.logger);
  const chassisRoutes = healthRoutes(lifecycle, options.readiness ?? {})
    .get('/metrics', async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    })
    .routes() as Middleware;

  app.use(requestContext(options.logger));
  app.use(metrics.middleware);
  app.use(problemTranslator());
  const body = jsonBody(options.bodyLimitBytes ?? 64 * 1024);
  // Every request would otherwise go through a router dispatch (host, match, events) that only
  // probes and scrapes can match; the router matches case-insensitively, with a trailing slash.
  // One step for both, as each step of Koa's chain costs every request a dispatch.
  app.use((ctx, next) =>
    chassisPaths.test(ctx.path) ? chassisRoutes(ctx, () => body(ctx, next)) : body(ctx, next),
  );
  for (const middleware of options.middleware ?? []) app.use(middleware);
  for (const router of options.routers) {
    app.use(router.routes());
    // Not `throw: true`: only this mode sets the Allow header a 405 must carry (RFC 9110);
    // the translator turns the bodiless 405/501 into a problem.
    app.use(router.allowedMethods());
  }
  // Errors never escape the translator; this only catches failures while writing the response.
  app.on('error', (error: unknown) => options.logger.warn({ err: error }, 'response failed'));
  return { app, lifecycle, metrics };
}
