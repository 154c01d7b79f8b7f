import Koa from 'koa';

// The baseline of the products benchmark: a bare Koa hello-world, behind the same ingress.
const app = new Koa();
const body = JSON.stringify({ hello: 'world' });
app.use((ctx) => {
  ctx.type = 'application/json';
  ctx.body = body;
});
app.listen(Number(process.env.PORT), '127.0.0.1');
