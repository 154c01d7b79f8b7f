import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { sidecarScript } from '@sidecart/dev/dapr-runtime';
import { freePort } from '@sidecart/dev/ports';
import { startPostgres } from '@sidecart/dev/postgres';
import { waitUntil } from '@sidecart/dev/processes';

// products under load, each figure a ratio to a baseline measured in the same run:
// 1. hot GET /api/products/:id through the ingress vs a bare Koa hello-world behind the same
//    ingress (goal ≥ 0.7), with the read cache on, off (before/after), and as 304s;
// 2. reservations of 1 unit of one hot product, invoked through two dev sidecars (as orders
//    calls them), vs the same conditional UPDATE sent straight to PostgreSQL with pg (goal ≥ 0.3).

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const repo = path.resolve(import.meta.dirname, '..');
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface AutocannonResult {
  requests: { average: number };
  latency: { p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

const children: ChildProcess[] = [];
const root = mkdtempSync(path.join(tmpdir(), 'sidecart-bench-products-'));
chmodSync(root, 0o755);
const postgres = await startPostgres({
  dataDir: path.join(root, 'pg'),
  port: await freePort(),
  ephemeral: true,
});

try {
  await Promise.all(['products', 'dapr'].map((name) => postgres.ensureDatabase(name)));
  const databaseUrl = postgres.url('products');
  const migrated = spawnSync(
    process.execPath,
    [path.join(repo, 'services/products/src/migrate.ts')],
    {
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: 'inherit',
    },
  );
  if (migrated.status !== 0) throw new Error('products migrations failed');
  const db = new pg.Pool({ connectionString: databaseUrl, max: 16 });
  const [productId, hotId] = [randomUUID(), randomUUID()];
  for (const id of [productId, hotId]) {
    await db.query(
      `insert into products (id, seller_id, sku, name, description, price_cents, currency, stock, status, created_at, updated_at)
       values ($1, $2, $3, 'Bench product', 'A product under load', 1999, 'EUR', 1000000000, 'active', now(), now())`,
      [id, randomUUID(), `BENCH-${id}`],
    );
  }

  const ports = {
    ingress: await freePort(),
    hello: await freePort(),
    products: await freePort(),
    productsSidecar: await freePort(),
    ordersSidecar: await freePort(),
  };
  const tokens = {
    APP_API_TOKEN: randomBytes(16).toString('hex'),
    SIDECAR_INTERNAL_TOKEN: randomBytes(24).toString('base64url'),
  };
  const sidecarEnv = {
    ...process.env,
    ...tokens,
    LOG_LEVEL: 'warn',
    DAPR_RESOURCES_PATH: path.join(import.meta.dirname, 'resources'),
    SIDECAR_DATABASE_URL: postgres.url('dapr'),
  };
  start(path.join(import.meta.dirname, 'products-hello-app.ts'), { PORT: String(ports.hello) });
  start(sidecarScript, {
    ...sidecarEnv,
    APP_ID: 'products',
    APP_PORT: String(ports.products),
    DAPR_HTTP_PORT: String(ports.productsSidecar),
  });
  start(sidecarScript, {
    ...sidecarEnv,
    APP_ID: 'orders',
    DAPR_HTTP_PORT: String(ports.ordersSidecar),
  });
  start(path.join(import.meta.dirname, 'products-ingress.ts'), {
    PORT: String(ports.ingress),
    PRODUCTS_PORT: String(ports.products),
    HELLO_PORT: String(ports.hello),
  });
  const startProducts = async (cacheEntries: number) => {
    const app = start(path.join(repo, 'services/products/src/main.ts'), {
      ...process.env,
      ...tokens,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(ports.products),
      DAPR_HTTP_PORT: String(ports.productsSidecar),
      LOG_LEVEL: 'warn',
      PRODUCT_CACHE_ENTRIES: String(cacheEntries),
    });
    await ready(`http://127.0.0.1:${ports.products}/readyz`);
    return app;
  };

  const ingress = `http://127.0.0.1:${ports.ingress}`;
  const get = (url: string, headers: Record<string, string> = {}) =>
    autocannon({ url, connections, duration: seconds, headers });
  await ready(`${ingress}/hello`);

  // Reads: the cache off first (every read is a query), then on.
  let app = await startProducts(0);
  const productUrl = `${ingress}/api/products/${productId}`;
  await get(productUrl); // warm-up: JIT, connection pools
  const uncached = await get(productUrl);
  await stop(app);
  app = await startProducts(10_000);
  await ready(`${ingress}/api/products/${productId}`);
  await get(productUrl);
  const hello = await get(`${ingress}/hello`);
  const cached = await get(productUrl);
  const notModified = await get(productUrl, { 'if-none-match': '"1"' });

  // Reservations: each request a new order for 1 unit of the hot product.
  const invokeUrl = `http://127.0.0.1:${ports.ordersSidecar}/v1.0/invoke/products/method/internal/reservations`;
  const reserve = (url = invokeUrl, headers: Record<string, string> = {}) =>
    autocannon({
      url,
      connections,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          setupRequest: (request: Record<string, unknown>) => ({
            ...request,
            body: JSON.stringify({
              orderId: randomUUID(),
              lines: [{ productId: hotId, quantity: 1 }],
            }),
          }),
        },
      ],
    });
  await reserve();
  const reservations = await reserve();
  // The same calls straight to the app, as its sidecar would deliver them: what the sidecars cost.
  const reservationsToApp = await reserve(
    `http://127.0.0.1:${ports.products}/internal/reservations`,
    {
      'dapr-api-token': tokens.APP_API_TOKEN,
      'dapr-caller-app-id': 'orders',
    },
  );
  const direct = await directUpdates(db, hotId);
  await db.end();

  const all = { hello, uncached, cached, notModified, reservations, reservationsToApp };
  for (const [name, result] of Object.entries(all)) {
    const failed =
      result.non2xx - (name === 'notModified' ? (result.statusCodeStats['304']?.count ?? 0) : 0);
    if (failed > 0 || result.errors > 0)
      throw new Error(`${name}: ${failed} failed answers, ${result.errors} errors`);
  }
  report({ ...all, direct });
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => (child.exitCode === null ? exited(child) : undefined)));
  await postgres.stop();
  rmSync(root, { recursive: true, force: true });
}

function start(script: string, env: Record<string, string | undefined>): ChildProcess {
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode === null) await exited(child);
  children.splice(children.indexOf(child), 1);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function ready(url: string): Promise<void> {
  const isUp = async () => (await fetch(url).catch(() => undefined))?.status === 200;
  if (!(await waitUntil(isUp, 30_000, 100)))
    throw new Error(`${url} did not answer 200 within 30 s`);
}

/** The reservation's conditional UPDATE, straight to PostgreSQL from `connections` clients. */
async function directUpdates(db: pg.Pool, id: string) {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const startedAt = process.hrtime.bigint();
      await db.query(
        `update products set stock = stock - $1, version = version + 1, updated_at = now()
         where id = $2 and stock >= $1 and status = 'active' returning price_cents, currency`,
        [1, id],
      );
      latencies.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  latencies.sort((a, b) => a - b);
  return {
    requests: { average: latencies.length / seconds },
    latency: { p99: latencies[Math.floor(latencies.length * 0.99)]!, average: 0 },
  };
}

type Figures = Pick<AutocannonResult, 'requests' | 'latency'>;

function report(results: Record<string, Figures>): void {
  const { hello, uncached, cached, notModified, reservations, reservationsToApp, direct } =
    results as Record<string, Figures>;
  const row = (label: string, result: Figures, base: Figures) =>
    console.log(
      `  ${label.padEnd(44)}${result.requests.average.toFixed(0).padStart(9)}${`${result.latency.p99.toFixed(1)} ms`.padStart(11)}` +
        `${(result.requests.average / base.requests.average).toFixed(2).padStart(10)}`,
    );
  console.log(`\nproducts: ${connections} connections, ${seconds} s per row\n`);
  console.log(
    `  ${'what'.padEnd(44)}${'req/s'.padStart(9)}${'p99'.padStart(11)}${'ratio'.padStart(10)}`,
  );
  row('bare Koa hello-world via ingress (baseline)', hello!, hello!);
  row('GET /api/products/:id, cache off (before)', uncached!, hello!);
  row('GET /api/products/:id, cache on (after)', cached!, hello!);
  row('GET /api/products/:id → 304 (If-None-Match)', notModified!, hello!);
  row('UPDATE … WHERE stock >= n, pg direct (baseline)', direct!, direct!);
  row('reserve 1 unit, straight to the app', reservationsToApp!, direct!);
  row('reserve 1 unit via 2 sidecars (Dapr invoke)', reservations!, direct!);
  const readRatio = cached!.requests.average / hello!.requests.average;
  const reserveRatio = reservations!.requests.average / direct!.requests.average;
  console.log(
    `\n  hot GET ÷ hello-world: ${readRatio.toFixed(2)} (goal ≥ 0.7: ${readRatio >= 0.7 ? 'met' : 'MISSED'}); ` +
      `p99 ${cached!.latency.p99.toFixed(1)} ms vs ${hello!.latency.p99.toFixed(1)} ms`,
  );
  console.log(
    `  reservations ÷ direct UPDATE: ${reserveRatio.toFixed(2)} (goal ≥ 0.3: ${reserveRatio >= 0.3 ? 'met' : 'MISSED'})\n`,
  );
}
