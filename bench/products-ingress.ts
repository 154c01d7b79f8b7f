import { startIngress } from '../dev/src/ingress/ingress.ts';

// The local ingress in a process of its own, as `npm start` runs it, routing the products
// benchmark's two apps: /api/products → PRODUCTS_PORT, /hello → HELLO_PORT.
const target = (name: string) => [{ replica: `${name}-0`, port: Number(process.env[name])! }];
await startIngress({
  port: Number(process.env.PORT),
  routes: [
    { prefix: '/api/products', service: 'PRODUCTS_PORT' },
    { prefix: '/hello', service: 'HELLO_PORT' },
  ],
  targets: target,
});
