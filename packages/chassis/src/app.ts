import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
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

/** Builds a service's Koa app with the chassis around its routes; never listens (tests use it). */
export function createApp(options: CreateAppOptions): ServiceApp {
  const app = new Koa({ proxy: true });
  const lifecycle: Lifecycle = { isShuttingDown: false };
  const metrics = createHttpMetrics(options.service);
  const scrape = new Router().get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  app.use(requestContext(options.logger));
  app.use(metrics.middleware);
  app.use(problemTranslator());
  app.use(healthRoutes(lifecycle, options.readiness ?? {}).routes());
  app.use(scrape.routes());
  for (const middleware of jsonBody(options.bodyLimitBytes ?? 64 * 1024)) app.use(middleware);
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
