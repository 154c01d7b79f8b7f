import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { appNodeOptions } from '@sidecart/dev/config';
import { freePort } from '@sidecart/dev/ports';
import { startScratchPostgres } from '@sidecart/dev/postgres';
import { waitUntil } from '@sidecart/dev/processes';
import { runLoad } from './load.ts';

// `node bench/products-profile.ts get|304|reserve [out-dir]`: one products app under load on one
// path, straight to the app (no ingress, no sidecar), run with `--cpu-prof`; the profile lands in
// out-dir (default .bench/profiles/, git-ignored), to open in Chrome DevTools or VS Code.

const paths = ['get', '304', 'reserve'] as const;
const which = process.argv[2] as (typeof paths)[number];
if (!paths.includes(which)) throw new Error(`usage: products-profile.ts ${paths.join('|')} [dir]`);
const repo = path.resolve(import.meta.dirname, '..');
const outDir = path.resolve(process.argv[3] ?? path.join(repo, '.bench', 'profiles'));
mkdirSync(outDir, { recursive: true });
const settings = { seconds: Number(process.env.BENCH_SECONDS ?? 10), connections: 32 };
const { root, postgres } = await startScratchPostgres('sidecart-profile-products-');
try {
  await postgres.ensureDatabase('products');
  const env = { ...process.env, DATABASE_URL: postgres.url('products'), LOG_LEVEL: 'warn' };
  const script = (name: string) => path.join(repo, 'services/products/src', name);
  if (spawnSync(process.execPath, [script('migrate.ts')], { env, stdio: 'inherit' }).status !== 0) {
    throw new Error('migrations failed');
  }
  const db = new pg.Pool({ connectionString: env.DATABASE_URL });
  const id = randomUUID();
  await db.query(
    `insert into products (id, seller_id, sku, name, description, price_cents, currency, stock, status, created_at, updated_at)
     values ($1, $2, 'PROFILE-1', 'Profiled product', 'A product under load', 1999, 'EUR', 1000000000, 'active', now(), now())`,
    [id, randomUUID()],
  );
  await db.end();
  const port = await freePort();
  const appApiToken = randomBytes(16).toString('hex');
  const app = spawn(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${outDir}`,
      `--cpu-prof-name=products-${which}.cpuprofile`,
      // PROFILE_HEAP=1: also where the app allocates (products-<path>.heapprofile).
      ...(process.env.PROFILE_HEAP
        ? [
            '--heap-prof',
            `--heap-prof-dir=${outDir}`,
            `--heap-prof-name=products-${which}.heapprofile`,
          ]
        : []),
    ].concat([...appNodeOptions.split(' '), script('main.ts')]),
    {
      env: { ...env, PORT: String(port), HOST: '127.0.0.1', APP_API_TOKEN: appApiToken },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${port}`;
  const up = () =>
    fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  if (!(await waitUntil(up, 30_000, 100))) throw new Error('the app did not start');

  const load =
    which === 'reserve'
      ? runLoad(`${base}/internal/reservations`, settings, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'dapr-api-token': appApiToken,
            'dapr-caller-app-id': 'orders',
          },
          body: () =>
            JSON.stringify({ orderId: randomUUID(), lines: [{ productId: id, quantity: 1 }] }),
        })
      : runLoad(`${base}/api/products/${id}`, settings, {
          headers: which === '304' ? { 'if-none-match': '"1"' } : {},
        });
  const result = await load;
  console.log(
    `${which}: ${result.perSecond.toFixed(0)} req/s, p99 ${result.p99Ms} ms`,
    result.statuses,
  );
  app.kill('SIGTERM');
  await new Promise((resolve) => app.once('exit', resolve));
  console.log(`profile: ${path.join(outDir, `products-${which}.cpuprofile`)}`);
} finally {
  await postgres.stop();
  rmSync(root, { recursive: true, force: true });
}
