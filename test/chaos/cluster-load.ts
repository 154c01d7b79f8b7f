import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { listProduct, request, signUp, type Reply } from '../e2e/orders-support.ts';
import type { RunningStack } from '../e2e/stack.ts';

// Bounded load through the cluster's entry point (Traefik on localhost:8080): browsing, checkouts
// by distinct customers, a few sign-ups; every answer recorded, every order remembered.

/** The e2e helpers read only the base URL of the stack they are given. */
export const clusterEntry = (baseUrl: string) => ({ baseUrl }) as RunningStack;

export interface Outcome {
  kind: 'browse' | 'checkout' | 'signup';
  /** 0: no HTTP answer at all (connection refused or reset). */
  status: number;
}

/** An answer that is the service's own: anything but a 5xx or a broken connection. */
export const answered = (outcome: Outcome) => outcome.status > 0 && outcome.status < 500;

export interface Customer {
  id: string;
  token: string;
}

async function attempt(call: () => Promise<Reply>): Promise<Reply> {
  try {
    return await call();
  } catch {
    return { status: 0, headers: new Headers(), body: undefined };
  }
}

/**
 * A well-behaved client's checkout: the cart, then the checkout under one Idempotency-Key, sent
 * again with the same key after a 5xx or a broken connection (a killed pod), so the answer that
 * counts is the order's final one.
 */
async function checkOut(
  stack: RunningStack,
  customer: Customer,
  productId: string,
  quantity: number,
) {
  const key = randomUUID();
  let cart: Reply;
  let tries = 1;
  for (; ; tries++) {
    cart = await attempt(() =>
      request(stack, 'PUT', '/api/cart', {
        token: customer.token,
        body: { items: [{ productId, quantity }] },
        headers: { 'if-none-match': '*' },
      }),
    );
    if (answeredStatus(cart.status) || tries === 5) break;
    await sleep(500 * tries);
  }
  // A 412 after a lost answer: the first attempt did write the cart.
  const written = cart.status === 200 || (cart.status === 412 && tries > 1);
  if (!written) return cart.status;
  for (let sends = 1; ; sends++) {
    const reply = await attempt(() =>
      request(stack, 'POST', '/api/cart/checkout', {
        token: customer.token,
        headers: { 'idempotency-key': key },
      }),
    );
    if (answeredStatus(reply.status) || sends === 8) return reply.status;
    await sleep(Math.min(Number(reply.headers.get('retry-after') ?? 0.5), 5) * 1000);
  }
}

const answeredStatus = (status: number) => status > 0 && status < 500;

export interface LoadPlan {
  stack: RunningStack;
  products: string[];
  mint: () => Customer;
  workers: number;
  /** The load stops when this says so, or after maxRequests, whichever comes first. */
  done: () => boolean;
  maxRequests: number;
  signUps: number;
}

export interface LoadResult {
  outcomes: Outcome[];
  /** Customers who reached a checkout: their orders are the ones to account for. */
  customers: Customer[];
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const outcomes: Outcome[] = [];
  const customers: Customer[] = [];
  let signUpsLeft = plan.signUps;
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;
  const worker = async () => {
    while (!plan.done() && outcomes.length < plan.maxRequests) {
      const roll = Math.random();
      if (roll < 0.05 && signUpsLeft > 0) {
        signUpsLeft--;
        // signUp throws with the problem+json of a refused register or login (a 429 is the
        // per-address limit doing its job), or on a broken connection (status 0).
        const status = await signUp(plan.stack).then(
          () => 200,
          (error: Error) => Number(/"status":(\d{3})/.exec(error.message)?.[1] ?? 0),
        );
        outcomes.push({ kind: 'signup', status });
      } else if (roll < 0.45) {
        const customer = plan.mint();
        customers.push(customer);
        const status = await checkOut(
          plan.stack,
          customer,
          pick(plan.products),
          1 + Math.floor(Math.random() * 3),
        );
        outcomes.push({ kind: 'checkout', status });
      } else {
        const path = roll < 0.75 ? '/api/products' : `/api/products/${pick(plan.products)}`;
        const reply = await attempt(() => request(plan.stack, 'GET', path));
        outcomes.push({ kind: 'browse', status: reply.status });
      }
    }
  };
  await Promise.all(Array.from({ length: plan.workers }, worker));
  return { outcomes, customers };
}

/** Lists the products the load buys from, each with `stock` units, as a (minted) seller. */
export async function stockUp(stack: RunningStack, seller: Customer, count: number, stock: number) {
  const products: string[] = [];
  for (let i = 0; i < count; i++) products.push((await listProduct(stack, seller.token, stock)).id);
  return products;
}

export interface Order {
  id: string;
  status: string;
  lines: { productId: string; quantity: number }[];
}

export async function ordersOf(stack: RunningStack, customers: Customer[]): Promise<Order[]> {
  const pages = await Promise.all(
    customers.map(async (customer) => {
      const reply = await request(stack, 'GET', '/api/orders', { token: customer.token });
      if (reply.status !== 200) throw new Error(`GET /api/orders: ${reply.status}`);
      return reply.body.items as Order[];
    }),
  );
  return pages.flat();
}

/** Statuses whose units left the stock (confirmed, and what follows it). */
export const sold = new Set(['confirmed', 'shipped', 'delivered']);

export async function stockOf(stack: RunningStack, productId: string): Promise<number> {
  return (await request(stack, 'GET', `/api/products/${productId}`)).body.stock as number;
}
