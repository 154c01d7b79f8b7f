import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startIngressProcess } from '@sidecart/dev/ingress';

import { appNodeOptions } from '@sidecart/dev/config';
import { prepareDaprRuntime, sidecarScript } from '@sidecart/dev/dapr-runtime';
import { freePort } from '@sidecart/dev/ports';
import { startScratchPostgres } from '@sidecart/dev/postgres';
import { waitUntil } from '@sidecart/dev/processes';
import { cpuMillis, measuringCpu, treeCpuMillis, type Processes } from './products-cpu.ts';
import { benchChildren } from './children.ts';
import { compareInRounds, runLoad, runSql, type Compared, type Load } from './load.ts';

// products under load, each figure a ratio to a baseline measured in the same rounds:
// 1. a hot GET /api/products/:id through the local ingress — its own process, fed its targets
//    over IPC, exactly as `npm start` runs it — vs a bare Koa hello-world behind that same ingress
//    (goal ≥ 0.7): read cache on, off, and answered 304 (If-None-Match);
// 2. reservations of 1 unit of one hot product through Dapr invocation — orders' sidecar →
//    products' sidecar → app, with the stack's own components/ (access control, resiliency) —
//    vs the same conditional UPDATE sent straight to PostgreSQL with pg (goal ≥ 0.3).
// Rows of a table take turns within each round, so the machine's load hits them alike.

const settings = {
  seconds: Number(process.env.BENCH_SECONDS ?? 5),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
};
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
// Both apps run with the V8 flags `npm start` gives a replica.
const appEnv = { ...process.env, NODE_OPTIONS: appNodeOptions };
const repo = path.resolve(import.meta.dirname, '..');
// Another copy of the service (say, an older commit's, beside this node_modules) to compare with.
const productsDir = path.resolve(
  process.env.BENCH_PRODUCTS_DIR ?? path.join(repo, 'services/products'),
);
/** How the products app's read cache answered: each counter's line on /metrics starts so. */
const cacheSeries = {
  hit: 'products_cache_reads{result="hit"',
  stale: 'products_cache_reads{result="stale"',
  miss: 'products_cache_reads{result="miss"',
  bypass: 'products_cache_reads{result="bypass"',
};
type CacheReads = Record<keyof typeof cacheSeries, number>;
/** The app's reservation statements and the reservations they decided (ADR 0016, addendum). */
const statementSeries = {
  statements: 'products_reservation_statements_total',
  reservations: 'products_reservations_total',
};
type StatementCounts = Record<keyof typeof statementSeries, number>;
const { start, stopAll } = benchChildren();
const { root, postgres } = await startScratchPostgres('sidecart-bench-products-');
// Ctrl-C (or a SIGTERM) still stops every process and removes the data folder.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}
let stopIngress = async () => {};
let closePool = async () => {};

try {
  await Promise.all(['products', 'dapr'].map((name) => postgres.ensureDatabase(name)));
  const databaseUrl = postgres.url('products');
  const migrated = spawnSync(process.execPath, [path.join(productsDir, 'src/migrate.ts')], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    stdio: 'inherit',
  });
  if (migrated.status !== 0) throw new Error('products migrations failed');
  const db = new pg.Pool({ connectionString: databaseUrl, max: settings.connections });
  closePool = () => db.end();
  const [productId, hotId] = [randomUUID(), randomUUID()];
  for (const id of [productId, hotId]) {
    await db.query(
      `insert into products (id, seller_id, sku, name, description, price_cents, currency, stock, status, created_at, updated_at)
       values ($1, $2, $3, 'Bench product', 'A product under load', 1999, 'EUR', 1000000000, 'active', now(), now())`,
      [id, randomUUID(), `BENCH-${id}`],
    );
  }

  // What `npm start` gives the sidecars: tokens, secrets and the repository's components/. The
  // runtime reads only these two fields of the stack's config.
  const devConfig = { dataDir: root, logLevel: 'warn' } as Parameters<typeof prepareDaprRuntime>[0];
  const dapr = prepareDaprRuntime(devConfig, postgres.url('dapr'));
  const ports = { products: await freePort(), productsSidecar: await freePort() };
  const ordersSidecar = await freePort();
  const productsDaprd = start(sidecarScript, {
    ...dapr.sidecarEnv('products'),
    APP_PORT: String(ports.products),
    DAPR_HTTP_PORT: String(ports.productsSidecar),
    SIDECAR_INSTANCE: 'products-0',
  });
  const ordersDaprd = start(sidecarScript, {
    ...dapr.sidecarEnv('orders'),
    DAPR_HTTP_PORT: String(ordersSidecar),
    SIDECAR_INSTANCE: 'orders-0',
  });
  const productsEnv = (port: number, cacheEntries: number) => ({
    ...appEnv,
    ...dapr.appEnv,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    DAPR_HTTP_PORT: String(ports.productsSidecar),
    LOG_LEVEL: logLevel,
    SERVICE_REPLICA: `products-${cacheEntries === 0 ? 'uncached' : '0'}`,
    PRODUCT_CACHE_ENTRIES: String(cacheEntries),
  });
  const productsMain = path.join(productsDir, 'src/main.ts');
  const uncachedPort = await freePort();
  const helloPort = await freePort();
  const apps = {
    cached: start(productsMain, productsEnv(ports.products, 10_000)),
    uncached: start(productsMain, productsEnv(uncachedPort, 0)),
  };
  const helloApp = start(path.join(import.meta.dirname, 'products-hello-app.ts'), {
    ...appEnv,
    PORT: String(helloPort),
  });
  for (const port of [ports.products, uncachedPort]) await ready(port, '/readyz');
  await ready(helloPort, '/');

  const ingress = await startIngressProcess({
    port: 0,
    routes: [
      { prefix: '/api/products', service: 'products' },
      { prefix: '/hello', service: 'hello' },
    ],
  });
  stopIngress = () => ingress.close();
  const route = (service: string, port: number) =>
    ingress.setTargets(service, [{ replica: `${service}-0`, port }]);
  route('hello', helloPort);
  const productUrl = `${ingress.url}/api/products/${productId}`;

  // Reads. The cached and the uncached app take turns behind the same ingress route; each run
  // counts its app's cache reads (/metrics), which also shows that the right app answered.
  const cacheReads = new Map<number, CacheReads>();
  const read =
    (port: number, headers: Record<string, string> = {}) =>
    async () => {
      route('products', port);
      const total = cacheReads.get(port) ?? { hit: 0, stale: 0, miss: 0, bypass: 0 };
      cacheReads.set(port, total);
      return counting(port, cacheSeries, total, () => runLoad(productUrl, settings, { headers }));
    };
  const hello = () => runLoad(`${ingress.url}/hello`, settings);
  // Warm-up: JIT, connection pools.
  await hello();
  await read(uncachedPort)();
  await read(ports.products)();
  cacheReads.clear();
  // Where each answer's CPU goes, by process (from /proc, at the edges of each run).
  const cpu: Record<string, { ms: Record<string, number>; requests: number }> = {};
  const measured = <T extends { count: number }>(
    row: string,
    processes: Processes,
    run: () => Promise<T>,
  ) => measuringCpu(processes, (cpu[row] = { ms: {}, requests: 0 }), run);
  const cpuOf = (child: ChildProcess) => () => cpuMillis(child.pid!);
  const ingressCpu = () => cpuMillis(ingress.pid);
  const postgresCpu = () => treeCpuMillis(postgres.pid);
  const reads = await compareInRounds(
    rounds,
    {
      hello: measured('hello', { app: cpuOf(helloApp), ingress: ingressCpu }, hello),
      cached: measured(
        'cached',
        { app: cpuOf(apps.cached), ingress: ingressCpu },
        read(ports.products),
      ),
      notModified: measured(
        'notModified',
        { app: cpuOf(apps.cached), ingress: ingressCpu },
        read(ports.products, { 'if-none-match': '"1"' }),
      ),
      uncached: measured(
        'uncached',
        { app: cpuOf(apps.uncached), ingress: ingressCpu, postgres: postgresCpu },
        read(uncachedPort),
      ),
    },
    'hello',
  );
  expectStatuses('hello', reads.hello, ['200']);
  expectStatuses('cached', reads.cached, ['200']);
  expectStatuses('notModified', reads.notModified, ['304']);
  expectStatuses('uncached', reads.uncached, ['200']);
  const cached = cacheReads.get(ports.products)!;
  // A stale hit is served from memory too, while one reload refreshes the product (ADR 0011).
  const memoryShare =
    (cached.hit + cached.stale) / (reads.cached.load.count + reads.notModified.load.count);
  if (cacheReads.get(uncachedPort)!.hit > 0) throw new Error('the uncached app served hits');

  // Reservations: each request a new order for 1 unit of the hot product.
  const reserveBody = () =>
    JSON.stringify({ orderId: randomUUID(), lines: [{ productId: hotId, quantity: 1 }] });
  // Each row also counts the app's reservation statements: reservations per statement is the
  // mean batch (ADR 0016, addendum).
  const batches: Record<string, StatementCounts> = {};
  const reserve = (row: string, url: string, headers: Record<string, string>) => () =>
    counting(
      ports.products,
      statementSeries,
      (batches[row] ??= { statements: 0, reservations: 0 }),
      () =>
        runLoad(url, settings, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: reserveBody,
        }),
    );
  const viaDapr = reserve(
    'viaDapr',
    `http://127.0.0.1:${ordersSidecar}/v1.0/invoke/products/method/internal/reservations`,
    { 'dapr-api-token': dapr.appEnv.DAPR_API_TOKEN! },
  );
  // The same calls straight to the app, as its sidecar delivers them: what the two hops cost.
  const toApp = reserve('toApp', `http://127.0.0.1:${ports.products}/internal/reservations`, {
    'dapr-api-token': dapr.appEnv.APP_API_TOKEN!,
    'dapr-caller-app-id': 'orders',
  });
  const direct = () =>
    runSql(db, settings, () => [
      `update products set stock = stock - $1, version = version + 1, updated_at = now()
       where id = $2 and stock >= $1 and status = 'active' returning price_cents, currency`,
      [1, hotId],
    ]);
  await viaDapr();
  await toApp();
  for (const row of Object.keys(batches)) delete batches[row];
  const before = await stockAndReserved(db, hotId);
  const writers = { app: cpuOf(apps.cached), postgres: postgresCpu };
  const sidecars = {
    'products sidecar': cpuOf(productsDaprd),
    'orders sidecar': cpuOf(ordersDaprd),
  };
  const writes = await compareInRounds(
    rounds,
    {
      direct: measured('direct', { postgres: postgresCpu }, direct),
      toApp: measured('toApp', writers, toApp),
      viaDapr: measured('viaDapr', { ...writers, ...sidecars }, viaDapr),
    },
    'direct',
  );
  expectStatuses('toApp', writes.toApp, ['200']);
  expectStatuses('viaDapr', writes.viaDapr, ['200']);
  // Each reservation row holds exactly one unit, and every answered reservation has its row
  // (autocannon stops counting with requests still in flight: those may add rows, up to one per
  // connection and run, warm-ups included).
  const after = await stockAndReserved(db, hotId);
  const reserved = after.reserved - before.reserved;
  const taken = before.stock - after.stock;
  const answered = writes.toApp.load.count + writes.viaDapr.load.count;
  const inFlight = reserved - answered;
  if (
    taken !== reserved + writes.direct.load.count ||
    inFlight < 0 ||
    inFlight > settings.connections * (rounds + 1) * 2
  ) {
    throw new Error(
      `${answered} reservations answered, ${reserved} recorded, ${taken} units taken`,
    );
  }
  report(reads, writes, memoryShare);
  reportCpu(cpu);
  reportBatches(batches);
} finally {
  await cleanUp();
}

async function cleanUp(): Promise<void> {
  await closePool();
  await stopIngress();
  await stopAll();
  await postgres.stop();
  rmSync(root, { recursive: true, force: true });
}

async function ready(port: number, pathname: string): Promise<void> {
  const url = `http://127.0.0.1:${port}${pathname}`;
  const isUp = async () => (await fetch(url).catch(() => undefined))?.status === 200;
  if (!(await waitUntil(isUp, 30_000, 100))) throw new Error(`${url} did not answer within 30 s`);
}

/** A run with any other answer (or a socket error) measured something else. */
function expectStatuses(name: string, row: Compared, allowed: string[]): void {
  const other = Object.entries(row.load.statuses).filter(([code]) => !allowed.includes(code));
  if (other.length > 0) throw new Error(`${name}: unexpected answers ${JSON.stringify(other)}`);
}

/** Counters from the app's /metrics, each the number ending the first line that starts so. */
async function countersOf<Key extends string>(
  port: number,
  series: Record<Key, string>,
): Promise<Record<Key, number>> {
  const lines = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split('\n');
  const count = (start: string) => {
    const line = lines.find((candidate) => candidate.startsWith(start));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const entries = Object.entries<string>(series).map(([key, start]) => [key, count(start)]);
  return Object.fromEntries(entries) as Record<Key, number>;
}

/** Runs `run`, adding to `total` how far the app's counters moved meanwhile. */
async function counting<Key extends string>(
  port: number,
  series: Record<Key, string>,
  total: Record<Key, number>,
  run: () => Promise<Load>,
): Promise<Load> {
  const before = await countersOf(port, series);
  const load = await run();
  const after = await countersOf(port, series);
  for (const key of Object.keys(series) as Key[]) total[key] += after[key] - before[key];
  return load;
}

function reportBatches(batches: Record<string, StatementCounts>) {
  const parts = Object.entries(batches).map(
    ([row, { statements, reservations }]) => `${row} ${fixed(reservations / statements, 1)}`,
  );
  console.log(`\n  reservations per statement (the app's batches): ${parts.join(', ')}`);
}

/** The hot product's stock and the reserved rows, from one snapshot (each row took one unit). */
async function stockAndReserved(db: pg.Pool, id: string) {
  const { rows } = await db.query<{ stock: number; reserved: string }>(
    `select (select stock from products where id = $1) as stock,
            (select count(*) from reservations where status = 'reserved') as reserved`,
    [id],
  );
  return { stock: rows[0]!.stock, reserved: Number(rows[0]!.reserved) };
}

function report(
  reads: Record<'hello' | 'cached' | 'notModified' | 'uncached', Compared>,
  writes: Record<'direct' | 'toApp' | 'viaDapr', Compared>,
  memoryShare: number,
): void {
  const row = (label: string, { load, ratio, p99Ratio }: Compared) =>
    console.log(
      `  ${label.padEnd(46)}${fixed(load.perSecond, 0).padStart(9)}${`${fixed(load.p99Ms, 1)} ms`.padStart(11)}` +
        `${fixed(ratio, 2).padStart(9)}${fixed(p99Ratio, 2).padStart(11)}`,
    );
  console.log(
    `\nproducts: ${settings.connections} connections, ${rounds} rounds of ${settings.seconds} s per row ` +
      `(medians; ratios within a round), app LOG_LEVEL=${logLevel}\n`,
  );
  console.log(
    `  ${'what'.padEnd(46)}${'req/s'.padStart(9)}${'p99'.padStart(11)}${'×req/s'.padStart(9)}${'×p99'.padStart(11)}`,
  );
  row('bare Koa hello-world via ingress (baseline)', reads.hello);
  row('GET /api/products/:id, cache on', reads.cached);
  row('GET /api/products/:id → 304 (If-None-Match)', reads.notModified);
  row('GET /api/products/:id, cache off', reads.uncached);
  row('UPDATE … WHERE stock >= n, pg direct (baseline)', writes.direct);
  row('reserve 1 unit, straight to the app', writes.toApp);
  row('reserve 1 unit via 2 sidecars (Dapr invoke)', writes.viaDapr);
  const goal = (ratio: number, min: number) =>
    `${fixed(ratio, 2)} (goal ≥ ${min}: ${ratio >= min ? 'met' : 'MISSED'})`;
  console.log(
    `\n  hot GET ÷ hello-world: ${goal(reads.cached.ratio, 0.7)}; 304 ÷ hello-world: ${fixed(reads.notModified.ratio, 2)}` +
      `\n  reservations via Dapr ÷ direct UPDATE: ${goal(writes.viaDapr.ratio, 0.3)}` +
      `\n  GETs answered from memory by the cached app (200 and 304 rows): ${fixed(memoryShare, 3)}\n`,
  );
}

function reportCpu(cpu: Record<string, { ms: Record<string, number>; requests: number }>): void {
  console.log('  CPU per answer, µs, by process:');
  for (const [row, { ms, requests }] of Object.entries(cpu)) {
    const parts = Object.entries(ms).map(
      ([name, total]) => `${name} ${fixed((total * 1000) / requests, 0)}`,
    );
    console.log(`    ${row.padEnd(12)} ${parts.join(', ')}`);
  }
  console.log();
}

function fixed(value: number, digits: number): string {
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
