import { setTimeout } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { e2eSidecar, type RunningStack } from './stack.ts';

// What the orders system tests share: calls through the ingress, tokens, and the databases.

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

/** A JSON request through the stack's ingress. */
export async function request(
  stack: RunningStack,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const response = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body };
}

/**
 * Mints access tokens with auth's signing key — by default the local stack's own (its data folder
 * holds it) — for load tests that need hundreds of distinct customers without hundreds of
 * registrations (10 an hour per address).
 */
export async function tokenMinter(
  stack: RunningStack,
  options: { pem?: string; expiresInSeconds?: number } = {},
) {
  const pem =
    options.pem ?? readFileSync(path.join(stack.dataDir, 'keys', 'auth-signing-key.pem'), 'utf8');
  const jwks = await request(stack, 'GET', '/api/auth/.well-known/jwks.json');
  const kid = jwks.body.keys[0].kid as string;
  return (roles: string[] = ['customer'], id = randomUUID()) => ({
    id,
    token: jwt.sign({ roles }, pem, {
      algorithm: 'RS256',
      keyid: kid,
      issuer: 'sidecart-auth',
      audience: 'sidecart',
      subject: id,
      expiresIn: options.expiresInSeconds ?? 900,
    }),
  });
}

/** Registers and logs in a real user through auth. */
export async function signUp(stack: RunningStack, accountType: 'customer' | 'seller' = 'customer') {
  const email = `${accountType}-${randomUUID()}@example.test`;
  const password = 'correct horse battery staple';
  const registered = await request(stack, 'POST', '/api/auth/register', {
    body: { email, password, name: accountType, accountType },
  });
  if (registered.status !== 201) throw new Error(`register: ${JSON.stringify(registered.body)}`);
  return { id: registered.body.id as string, token: await logIn(stack, email, password) };
}

export async function logIn(stack: RunningStack, email: string, password: string) {
  const login = await request(stack, 'POST', '/api/auth/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login: ${JSON.stringify(login.body)}`);
  return login.body.accessToken as string;
}

/** The first admin of every local stack (dev/README.md). */
export const logInAsAdmin = (stack: RunningStack) =>
  logIn(stack, 'admin@sidecart.local', 'admin-local-dev-password');

/** A seller's active product with `stock` units. */
export async function listProduct(
  stack: RunningStack,
  sellerToken: string,
  stock: number,
  priceCents = 1_500,
) {
  const created = await request(stack, 'POST', '/api/products', {
    token: sellerToken,
    body: {
      sku: `SKU-${randomUUID().slice(0, 8)}`,
      name: 'Flash sale kettle',
      priceCents,
      currency: 'EUR',
      status: 'active',
      stock,
    },
  });
  if (created.status !== 201) throw new Error(`list product: ${JSON.stringify(created.body)}`);
  return created.body as { id: string; stock: number; version: number };
}

/** A client of one of the stack's databases. */
export async function database(stack: RunningStack, name: string) {
  const client = new pg.Client({
    connectionString: `postgres://postgres:sidecart-local-dev@127.0.0.1:${stack.stack.postgres!.port}/${name}`,
  });
  await client.connect();
  return client;
}

interface CartItem {
  productId: string;
  quantity: number;
}

/**
 * Fills the customer's cart (first cart: If-None-Match *) and checks it out under an
 * Idempotency-Key, as a well-behaved client does: a 503 (the stack is overloaded, or the answer is
 * "not known yet", ADR 0009) is retried after its Retry-After — the checkout with the same key —
 * so the answer that counts is the order's final one.
 */
export async function checkOut(
  stack: RunningStack,
  token: string,
  items: CartItem[],
  key: string = randomUUID(),
): Promise<Reply & { attempts: number }> {
  await putFirstCart(stack, token, items);
  return retryUnavailable(() =>
    request(stack, 'POST', '/api/cart/checkout', { token, headers: { 'idempotency-key': key } }),
  );
}

/**
 * Creates the customer's first cart. After a 503 the write may have landed all the same, so a
 * repeat that finds a cart (412) reads it back: holding these items, it is this client's.
 */
async function putFirstCart(stack: RunningStack, token: string, items: CartItem[]) {
  let answered503 = false;
  const cart = await retryUnavailable(async () => {
    const reply = await request(stack, 'PUT', '/api/cart', {
      token,
      body: { items },
      headers: { 'if-none-match': '*' },
    });
    answered503 ||= reply.status === 503;
    return reply;
  });
  if (cart.status === 200) return;
  if (cart.status === 412 && answered503) {
    const stored = await request(stack, 'GET', '/api/cart', { token });
    const held = (stored.body?.items ?? []).map(({ productId, quantity }: CartItem) => ({
      productId,
      quantity,
    }));
    if (stored.status === 200 && JSON.stringify(held) === JSON.stringify(items)) return;
  }
  throw new Error(`cart (${e2eSidecar} lane): ${cart.status} ${JSON.stringify(cart.body)}`);
}

/** Sends until the answer is not a 503 (waiting its Retry-After, at most 5 s), or 10 times. */
export async function retryUnavailable(
  send: () => Promise<Reply>,
): Promise<Reply & { attempts: number }> {
  for (let attempts = 1; ; attempts++) {
    const reply = await send();
    if (reply.status !== 503 || attempts === maxAttempts) return { ...reply, attempts };
    const retryAfter = Number(reply.headers.get('retry-after') ?? 1);
    await setTimeout(Math.min(retryAfter, 5) * 1000);
  }
}

const maxAttempts = 10;
