import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { freePort } from '@sidecart/dev/ports';
import { waitUntil } from '@sidecart/dev/processes';
import { runLoad, runLoops, type Load } from './load.ts';

// Checkout — POST /api/orders with one line and a fresh Idempotency-Key, sent by autocannon —
// through the ingress of a whole local stack (auth, products, orders; 2 replicas each beside
// their dev sidecars) against its baseline in the same run: the raw SQL of one order — insert the
// order and its line, the conditional stock decrement, the outbox row, one transaction — done
// directly with `pg` on the same PostgreSQL, at the same concurrency. Two shapes: orders spread
// over 100 products, and every order on one hot product; each at a few concurrencies (a quiet
// shop's and a busy one's), because the stack batches what arrives together and the raw SQL has
// nothing to batch. The stack is warmed up first (its JIT, pools, caches and verified tokens), so
// the windows measure its steady state. Also the cost: CPU time of every process of the stack
// (supervisor and ingress, apps, sidecars, PostgreSQL; from /proc) per confirmed checkout, read
// when a window's load starts and when it returns. Everything else — the seller, the products,
// the customers' tokens — is made before any window opens. Goals: checkout orders/s ≥ 0.25 × raw
// SQL, each side at the concurrency where it does the most (its capacity; ADR 0019), the rows at
// equal concurrency printed beside; ≤ 5 ms CPU per checkout.

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? '16,64').split(',').map(Number);
const warmUpSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const busiest = Math.max(...concurrencies);
const repoRoot = path.resolve(import.meta.dirname, '..');
const clockTicks = 100; // USER_HZ on Linux

const dataDir = mkdtempSync(path.join(tmpdir(), 'sidecart-bench-orders-'));
chmodSync(dataDir, 0o755);
const port = await freePort();
const supervisor = spawn(
  process.execPath,
  [
    path.join(repoRoot, 'dev/src/start.ts'),
    '--port',
    String(port),
    '--pg-port',
    String(await freePort()),
  ].concat(['--data-dir', dataDir, '--replicas', '2', '--services', 'auth,products,orders']),
  {
    cwd: repoRoot,
    stdio: ['ignore', process.env.BENCH_STACK_LOG ? 'inherit' : 'ignore', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  },
);

try {
  const stack = await readyStack();
  const base = stack.ingress.url;
  const pgUrl = (db: string) =>
    `postgres://postgres:sidecart-local-dev@127.0.0.1:${stack.postgres.port}/${db}`;
  const seller = await sellerToken(base);
  const spread = await Promise.all(
    Array.from({ length: 100 }, () => listProduct(base, seller, 1_000_000)),
  );
  const hot = [await listProduct(base, seller, 1_000_000)];
  const baseline = await prepareBaseline(pgUrl('postgres'), busiest);
  const customer = await customers(base);

  const checkouts = (products: readonly string[], connections: number, forSeconds: number) =>
    runLoad(
      `${base}/api/orders`,
      { connections, seconds: forSeconds },
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        freshHeaders: () => ({
          authorization: `Bearer ${customer()}`,
          'idempotency-key': randomUUID(),
        }),
        body: () =>
          JSON.stringify({ items: [{ productId: products[pick(products.length)], quantity: 1 }] }),
      },
    ).then(confirmedOnly);
  await checkouts([...spread, ...hot], busiest, warmUpSeconds);
  console.log(
    `\ncheckout vs the raw SQL of one order, ${seconds} s each, after ${warmUpSeconds} s of checkouts\n`,
  );
  console.log(
    `  ${'shape'.padEnd(72)}${'orders/s'.padStart(10)}${'p50'.padStart(10)}${'p99'.padStart(10)}`,
  );
  const shapes = [
    ['spread over 100 products', spread],
    ['one hot product', hot],
  ] as const;
  const measured = new Map<string, Measured[]>();
  for (const [concurrency, [name, products]] of concurrencies.flatMap((concurrency) =>
    shapes.map((shape) => [concurrency, shape] as const),
  )) {
    const shape = `${name}, ${concurrency} at a time`;
    const raw = await rawOrders(() => baseline.placeOrder(pick(products.length)), concurrency);
    await baseline.tidy();
    await checkouts(products, concurrency, 2);
    const cpuBefore = stackCpu(stack);
    const checkout = await checkouts(products, concurrency, seconds);
    const cpuAfter = stackCpu(stack);
    const confirmed = checkout.statuses['201']!;
    row(`raw SQL (pg), ${shape}`, raw);
    row(`checkout through the ingress, ${shape}`, checkout);
    measured.set(name, [...(measured.get(name) ?? []), { concurrency, raw, checkout }]);
    const ratio = checkout.perSecond / raw.perSecond;
    const cpuPer = (total(cpuAfter) - total(cpuBefore)) / confirmed;
    console.log(
      `  → throughput ×${ratio.toFixed(3)} of raw SQL (≥ 0.25 at equal clients: ${ratio >= 0.25 ? 'met' : 'MISSED'}),` +
        ` p99 ×${(checkout.p99Ms / raw.p99Ms).toFixed(1)} of raw SQL;` +
        ` stack CPU ${cpuPer.toFixed(2)} ms per checkout (goal ≤ 5 ms: ${cpuPer <= 5 ? 'met' : 'MISSED'})`,
    );
    const parts = [...cpuAfter].map(
      ([role, ms]) => `${role} ${((ms - (cpuBefore.get(role) ?? 0)) / confirmed).toFixed(2)}`,
    );
    console.log(`    CPU ms per checkout by process: ${parts.join(', ')}\n`);
  }
  if (concurrencies.length > 1) printCapacity(measured);
  await baseline.close();
} catch (error) {
  console.error('the benchmark failed:', error);
  process.exitCode = 1;
} finally {
  supervisor.kill('SIGINT');
  await waitUntil(() => supervisor.exitCode !== null, 30_000);
  if (!process.env.BENCH_KEEP) rmSync(dataDir, { recursive: true, force: true });
}

interface StackInfo {
  pid: number;
  ready: boolean;
  ingress: { url: string };
  postgres: { port: number; pid: number };
}

async function readyStack(): Promise<StackInfo> {
  const file = path.join(dataDir, 'stack.json');
  const read = () =>
    existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackInfo) : undefined;
  const ready = await waitUntil(
    () => supervisor.exitCode !== null || read()?.ready === true,
    90_000,
  );
  if (!ready || supervisor.exitCode !== null) throw new Error('the stack did not start');
  return read()!;
}

/** Every checkout of a run confirmed (a 409 would mean the stock ran out, anything else failed). */
function confirmedOnly(load: Load): Load {
  const { '201': confirmed = 0, ...others } = load.statuses;
  if (Object.keys(others).length > 0) {
    throw new Error(`checkouts answered other than 201: ${JSON.stringify(load.statuses)}`);
  }
  if (confirmed === 0) throw new Error('no checkout was confirmed');
  return load;
}

/** The raw SQL's orders from `concurrency` loops for `seconds`, after a 2 s warm-up. */
async function rawOrders(placeOrder: () => Promise<number>, concurrency: number): Promise<Load> {
  const order = async () => {
    if ((await placeOrder()) !== 201) throw new Error('the raw SQL ran out of stock');
  };
  await runLoops({ connections: concurrency, seconds: 2 }, order);
  return runLoops({ connections: concurrency, seconds }, order);
}

/** One shape at one concurrency: the raw SQL's window and the checkouts'. */
interface Measured {
  concurrency: number;
  raw: Load;
  checkout: Load;
}

/**
 * Each side at the concurrency where it does the most orders a second: what the shop can take at
 * its busiest, where the rows above compare the two at the same number of clients (ADR 0019).
 */
function printCapacity(measured: Map<string, Measured[]>): void {
  const best = (runs: { concurrency: number; load: Load }[]) =>
    runs.reduce((a, b) => (b.load.perSecond > a.load.perSecond ? b : a));
  const side = ({ concurrency, load }: { concurrency: number; load: Load }) =>
    `${load.perSecond.toFixed(0)}/s (${concurrency} clients)`;
  console.log(`  capacity: each side at its best of ${concurrencies.join(', ')} clients`);
  for (const [shape, runs] of measured) {
    const raw = best(runs.map(({ concurrency, raw: load }) => ({ concurrency, load })));
    const checkout = best(runs.map(({ concurrency, checkout: load }) => ({ concurrency, load })));
    const ratio = checkout.load.perSecond / raw.load.perSecond;
    console.log(
      `    ${shape}: checkout ${side(checkout)} ÷ raw SQL ${side(raw)} = ×${ratio.toFixed(3)}` +
        ` (goal ≥ 0.25: ${ratio >= 0.25 ? 'met' : 'MISSED'})`,
    );
  }
}

function row(label: string, load: Load) {
  const ms = (value: number) => `${value.toFixed(2)} ms`.padStart(10);
  console.log(
    `  ${label.padEnd(72)}${load.perSecond.toFixed(0).padStart(10)}${ms(load.p50Ms)}${ms(load.p99Ms)}`,
  );
}

function pick(n: number): number {
  return Math.floor(Math.random() * n);
}

/** The baseline's tables in a database of its own, shaped like orders' and products'. */
async function prepareBaseline(adminUrl: string, connections: number) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('create database bench_baseline');
  await admin.end();
  const pool = new pg.Pool({
    connectionString: adminUrl.replace(/\/postgres$/, '/bench_baseline'),
    max: connections,
  });
  // The stack stops PostgreSQL at the end: idle pooled clients then see their connection end.
  pool.on('error', () => undefined);
  await pool.query(`
    create table products (id uuid primary key, stock int not null, version int not null default 1);
    create table orders (id uuid primary key, user_id uuid not null, status text not null, total_cents int,
      currency varchar(3), created_at timestamptz not null, updated_at timestamptz not null, version int not null default 1);
    create table order_lines (order_id uuid not null references orders, product_id uuid not null, quantity int not null,
      unit_price_cents int not null, currency varchar(3) not null, primary key (order_id, product_id));
    create table outbox_events (id uuid primary key, topic text not null, data jsonb not null, created_at timestamptz not null,
      published_at timestamptz);`);
  const ids = Array.from({ length: 100 }, () => randomUUID());
  await pool.query('insert into products (id, stock) select unnest($1::uuid[]), 1000000000', [ids]);
  // Its dead rows are vacuumed between windows (`tidy`), not by autovacuum during the stack's.
  const tables = 'products, orders, order_lines, outbox_events';
  for (const table of tables.split(', ')) {
    await pool.query(`alter table ${table} set (autovacuum_enabled = off)`);
  }
  return {
    async placeOrder(index: number) {
      const client = await pool.connect();
      try {
        const orderId = randomUUID();
        const productId = ids[index]!;
        await client.query('begin');
        await client.query(
          `insert into orders (id, user_id, status, total_cents, currency, created_at, updated_at)
           values ($1, $2, 'confirmed', 1500, 'EUR', now(), now())`,
          [orderId, randomUUID()],
        );
        await client.query(`insert into order_lines values ($1, $2, 1, 1500, 'EUR')`, [
          orderId,
          productId,
        ]);
        const { rowCount } = await client.query(
          'update products set stock = stock - 1, version = version + 1 where id = $1 and stock >= 1',
          [productId],
        );
        await client.query(
          `insert into outbox_events (id, topic, data, created_at) values ($1, 'order-confirmed', $2, now())`,
          [randomUUID(), { orderId, productId, quantity: 1 }],
        );
        await client.query('commit');
        return rowCount === 1 ? 201 : 409;
      } finally {
        client.release();
      }
    },
    tidy: () => pool.query(`vacuum ${tables}`),
    close: () => pool.end(),
  };
}

/**
 * Customers with tokens signed by the stack's own auth key, minted before any window (signing is
 * the bench's CPU, not the stack's), taken in turn. Enough of them that none reaches orders' limit
 * of 60 placements a minute below 2,000 checkouts/s.
 */
async function customers(base: string): Promise<() => string> {
  const pem = readFileSync(path.join(dataDir, 'keys', 'auth-signing-key.pem'), 'utf8');
  const jwks = (await (await fetch(`${base}/api/auth/.well-known/jwks.json`)).json()) as {
    keys: { kid: string }[];
  };
  const tokens = Array.from({ length: 2_000 }, () =>
    jwt.sign({ roles: ['customer'] }, pem, {
      algorithm: 'RS256',
      keyid: jwks.keys[0]!.kid,
      issuer: 'sidecart-auth',
      audience: 'sidecart',
      subject: randomUUID(),
      expiresIn: 900,
    }),
  );
  let next = 0;
  return () => tokens[next++ % tokens.length]!;
}

/** A JSON POST to the stack, signed in when given a token. */
function post(base: string, url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${base}${url}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
}

async function sellerToken(base: string) {
  const email = `bench-seller-${randomUUID()}@example.test`;
  const password = 'correct horse battery staple';
  await post(base, '/api/auth/register', { email, password, name: 'Bench', accountType: 'seller' });
  const login = (await (await post(base, '/api/auth/login', { email, password })).json()) as {
    accessToken: string;
  };
  return login.accessToken;
}

async function listProduct(base: string, token: string, stock: number): Promise<string> {
  const product = {
    sku: `B-${randomUUID().slice(0, 12)}`,
    name: 'Bench product',
    priceCents: 1_500,
    currency: 'EUR',
    status: 'active',
    stock,
  };
  const created = await post(base, '/api/products', product, token);
  if (created.status !== 201) throw new Error(`listing a product failed: ${created.status}`);
  return ((await created.json()) as { id: string }).id;
}

/** What a process of the stack is, for the CPU breakdown. */
function roleOf(pid: number): string {
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'other';
  }
  const service = /services\/(\w+)\/src\/main\.ts/.exec(cmd);
  if (service) return `${service[1]} app`;
  if (cmd.includes('sidecar/main.ts')) return 'sidecars';
  if (cmd.includes('postgres')) return 'postgres';
  return 'supervisor+ingress';
}

/** CPU time (user + system, with reaped children) of the supervisor's and postmaster's trees, by role. */
function stackCpu(stack: StackInfo): Map<string, number> {
  const processes = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
        return [{ pid: Number(pid), ppid: Number(fields[1]), ticks }];
      } catch {
        return []; // exited meanwhile
      }
    });
  const roots = new Set([stack.pid, stack.postgres.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const proc of processes) {
      if (!roots.has(proc.pid) && roots.has(proc.ppid)) {
        roots.add(proc.pid);
        grew = true;
      }
    }
  }
  const byRole = new Map<string, number>();
  for (const proc of processes.filter((p) => roots.has(p.pid))) {
    const role = roleOf(proc.pid);
    byRole.set(role, (byRole.get(role) ?? 0) + (proc.ticks / clockTicks) * 1000);
  }
  return byRole;
}

function total(cpu: Map<string, number>): number {
  return [...cpu.values()].reduce((a, b) => a + b, 0);
}
