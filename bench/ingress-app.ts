import Router from '@koa/router';
import { createApp, createLogger } from '@sidecart/chassis';

// A replica as the services build one — the chassis around one small GET route, no database —
// the "one replica served directly" of the ingress benchmark's baseline.
const replica = process.env.SERVICE_REPLICA ?? 'bench-0';
const body = { id: '00000000-0000-4000-8000-000000000000', name: 'A small thing', price: 1250 };
const router = new Router({ prefix: '/api/bench' }).get('/item', (ctx) => {
  ctx.body = body;
});
const { app } = createApp({
  service: 'bench',
  logger: createLogger('bench', 'warn', replica),
  routers: [router],
});
app.listen(Number(process.env.PORT), '127.0.0.1');
