import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

// `npm run demo`: plays a shop's journey against a running stack (`npm start`) and prints each
// step: the request, the status, and the part of the answer that matters. The ingress URL comes
// from the stack's stack.json (`--data-dir` or SIDECART_DATA_DIR when not `.data`).

const repoRoot = path.resolve(import.meta.dirname, '..');
const flag = process.argv.indexOf('--data-dir');
const dataDir = path.resolve(
  flag > 0
    ? process.argv[flag + 1]!
    : (process.env.SIDECART_DATA_DIR ?? path.join(repoRoot, '.data')),
);
const stackFile = path.join(dataDir, 'stack.json');
if (!existsSync(stackFile)) {
  console.error(
    `No running stack: ${stackFile} does not exist. Start one with \`npm start\` first.`,
  );
  process.exit(1);
}
const base = (JSON.parse(readFileSync(stackFile, 'utf8')) as { ingress: { url: string } }).ingress
  .url;

interface Step {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- a demo reads loosely
}

let stepNo = 0;
async function step(
  title: string,
  method: string,
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  show: (answer: Step) => unknown = (answer) => answer.body,
): Promise<Step> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const answer = {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
  stepNo += 1;
  console.log(
    `\n${stepNo}. ${title}\n   ${method} ${url}${options.headers ? ` ${JSON.stringify(options.headers)}` : ''}`,
  );
  console.log(`   → ${answer.status}  ${JSON.stringify(show(answer))}`);
  if (answer.status >= 400 && !title.includes('refused')) {
    throw new Error(`step ${stepNo} failed: ${answer.status} ${text}`);
  }
  return answer;
}

const password = 'correct horse battery staple';
const run = randomUUID().slice(0, 8);
async function account(name: string, accountType: 'customer' | 'seller') {
  const email = `${name.toLowerCase()}-${run}@example.com`;
  await step(
    `${name} registers as a ${accountType}`,
    'POST',
    '/api/auth/register',
    {
      body: { email, password, name, accountType },
    },
    (a) => ({ id: a.body.id, roles: a.body.roles }),
  );
  const login = await step(
    `${name} logs in`,
    'POST',
    '/api/auth/login',
    { body: { email, password } },
    (a) => ({
      accessToken: `${String(a.body.accessToken).slice(0, 16)}…`,
      expiresIn: a.body.expiresIn,
    }),
  );
  return login.body.accessToken as string;
}

console.log(`sidecart demo against ${base}`);
const sam = await account('Sam', 'seller');
const product = await step(
  'Sam lists a kettle: 10 in stock, 29.99 EUR',
  'POST',
  '/api/products',
  {
    token: sam,
    body: {
      sku: `KETTLE-${run}`,
      name: 'Kettle',
      priceCents: 2_999,
      currency: 'EUR',
      stock: 10,
      status: 'active',
    },
  },
  (a) => ({ id: a.body.id, stock: a.body.stock, status: a.body.status }),
);
const ada = await account('Ada', 'customer');
await step(
  'Ada puts 2 kettles in her first cart',
  'PUT',
  '/api/cart',
  {
    token: ada,
    body: { items: [{ productId: product.body.id, quantity: 2 }] },
    headers: { 'if-none-match': '*' },
  },
  (a) => ({ etag: a.headers.get('etag'), items: a.body.items }),
);
await step(
  'A stale ETag is refused',
  'PUT',
  '/api/cart',
  {
    token: ada,
    body: { items: [] },
    headers: { 'if-match': '"00000000-0000-0000-0000-000000000000"' },
  },
  (a) => ({ code: a.body.code }),
);
await step('Ada looks at her cart', 'GET', '/api/cart', { token: ada }, (a) => ({
  etag: a.headers.get('etag'),
  items: a.body.items.map((l: Record<string, unknown>) => ({
    name: l.name,
    quantity: l.quantity,
    unitPrice: l.unitPrice,
    problem: l.problem,
  })),
}));
const key = randomUUID();
const order = await step(
  'Ada checks out (with an Idempotency-Key)',
  'POST',
  '/api/cart/checkout',
  {
    token: ada,
    headers: { 'idempotency-key': key },
  },
  (a) => ({ id: a.body.id, status: a.body.status, total: a.body.total }),
);
await step(
  'The same checkout again replays the first answer',
  'POST',
  '/api/cart/checkout',
  {
    token: ada,
    headers: { 'idempotency-key': key },
  },
  (a) => ({ id: a.body.id, status: a.body.status }),
);
await step('Stock after the checkout', 'GET', `/api/products/${product.body.id}`, {}, (a) => ({
  stock: a.body.stock,
}));
await step('Ada lists her orders', 'GET', '/api/orders', { token: ada }, (a) =>
  a.body.items.map((o: Record<string, unknown>) => ({ id: o.id, status: o.status })),
);
await step('Ada cancels', 'DELETE', `/api/orders/${order.body.id}`, { token: ada }, (a) => ({
  status: a.body.status,
  reason: a.body.reason,
}));
// Until every replica serves it: three reads in a row, as the ingress takes replicas in turn.
let readsBack = 0;
for (let i = 0; i < 50 && readsBack < 3; i += 1) {
  const { stock } = await (await fetch(`${base}/api/products/${product.body.id}`)).json();
  readsBack = stock === 10 ? readsBack + 1 : 0;
  if (stock !== 10) await delay(100);
}
console.log(`\n   (order-cancelled travels through the outbox and pub/sub to products)`);
await step('The stock is back', 'GET', `/api/products/${product.body.id}`, {}, (a) => ({
  stock: a.body.stock,
}));
console.log('\nDone.');
