import Router from '@koa/router';
import type { SigningKey } from './signing-key.ts';

/** Public keys for everyone who verifies our tokens (other services, through Dapr). */
export function jwksRoutes(key: SigningKey): Router {
  const body = { keys: [key.jwk] };
  return new Router().get('/api/auth/.well-known/jwks.json', (ctx) => {
    ctx.set('cache-control', 'public, max-age=300');
    ctx.body = body;
  });
}
