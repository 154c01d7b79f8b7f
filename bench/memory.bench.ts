import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { childPids, formatMebibytes, proportionalBytes, residentBytes } from '@sidecart/dev/memory';
import { freePort } from '@sidecart/dev/ports';
import { waitUntil } from '@sidecart/dev/processes';
import { readStackFile, type StackFile } from '@sidecart/dev/stack-file';

// Memory of a whole local stack, idle after start: `npm start` as a developer runs it (every
// service of the catalog, 2 replicas each), on free ports and a throw-away data folder. Before
// it idles, every app talks to Dapr once, as in real use (exercise()). Reports
// the resident set of every process stack.json names — supervisor, ingress, each app and dev
// sidecar, PostgreSQL and its watchdog — and the total, against a bare Node process started in
// the same process tree as the baseline. PSS beside it divides shared pages among their sharers.

const replicas = Number(process.env.BENCH_REPLICAS ?? 2);
/** How long the stack idles after it is ready before it is measured (timers, pools settle). */
const idleMs = Number(process.env.BENCH_IDLE_MS ?? 10_000);
const mib = 1024 * 1024;
const targets = { sidecar: 80 * mib, app: 130 * mib, total: 1.5 * 1024 * mib };

const repoRoot = path.resolve(import.meta.dirname, '..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'sidecart-bench-memory-'));
chmodSync(dataDir, 0o755);
const args = ['--port', String(await freePort()), '--pg-port', String(await freePort())];
args.push('--data-dir', dataDir, '--replicas', String(replicas));
const stack = spawn(process.execPath, [path.join(repoRoot, 'dev/src/start.ts'), ...args], {
  cwd: repoRoot,
  env: { ...process.env, LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
stack.stdout!.on('data', (chunk: Buffer) => (output += chunk));
// An idle Node process that ran nothing: what any process of the stack costs before its own code.
const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });

try {
  const ready = await waitUntil(
    () => stack.exitCode !== null || readStackFile(dataDir)?.ready === true,
    120_000,
    100,
  );
  if (!ready || stack.exitCode !== null) throw new Error(`the stack did not start:\n${output}`);
  await exercise(readStackFile(dataDir)!);
  await sleep(idleMs);
  report(readStackFile(dataDir)!, residentBytes(bare.pid!)!);
} finally {
  bare.kill();
  stack.kill('SIGINT');
  await exited(stack);
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Makes every app call its sidecar, each replica addressed directly (the ingress would choose):
 * a registration at each auth replica (its outbox relay, nudged by the commit, publishes
 * user-registered), a signed-in product listing at each products replica (auth's JWKS, fetched
 * through Dapr invocation) and an order at each orders replica (JWKS, products' reservation
 * through Dapr invocation, order-placed through the outbox).
 */
async function exercise(file: StackFile): Promise<void> {
  const urlOf = (replica: { appPort: number | null }) => `http://127.0.0.1:${replica.appPort}`;
  const replicasOf = (service: string) => file.services[service]?.replicas ?? [];
  const password = 'correct horse battery staple';
  let token = '';
  for (const replica of replicasOf('auth')) {
    const email = `memory-bench-${replica.replica}-${Date.now()}@example.test`;
    await call(`${urlOf(replica)}/api/auth/register`, 201, { email, password, name: 'Bench' });
    token ||= (await call(`${urlOf(replica)}/api/auth/login`, 200, { email, password }))
      .accessToken as string;
  }
  let productId = '';
  for (const replica of replicasOf('products')) {
    const page = await call(`${urlOf(replica)}/api/products?limit=1`, 200, undefined, token);
    productId = (page.items as Array<{ id: string }>)[0]!.id;
  }
  for (const replica of replicasOf('orders')) {
    const items = [{ productId, quantity: 1 }];
    await call(`${urlOf(replica)}/api/orders`, 201, { items }, token);
  }
  console.log(
    `\neach app called Dapr: ${replicasOf('auth').length} registrations, ` +
      `${replicasOf('products').length} signed-in listings, ${replicasOf('orders').length} orders`,
  );
}

async function call(url: string, status: number, body?: unknown, token?: string) {
  const response = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== status) throw new Error(`${url}: ${response.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

function report(file: StackFile, baseline: number): void {
  const rows: Array<{ name: string; kind: string; rss: number; pss: number }> = [];
  const add = (name: string, kind: string, pids: number[], mayVanish = false) => {
    let figures = pids.map((pid) => [residentBytes(pid), proportionalBytes(pid)]);
    // A PostgreSQL backend may end between listing and reading.
    if (mayVanish) figures = figures.filter(([rss, pss]) => rss !== undefined && pss !== undefined);
    if (
      figures.length === 0 ||
      figures.some(([rss, pss]) => rss === undefined || pss === undefined)
    ) {
      throw new Error(`no memory figures for ${name} (pids ${pids.join(', ')}): not on Linux?`);
    }
    const sum = (index: number) => figures.reduce((total, figure) => total + figure[index]!, 0);
    rows.push({ name, kind, rss: sum(0), pss: sum(1) });
  };
  add('supervisor', 'supervisor', [file.pid]);
  add('ingress', 'ingress', [file.ingress.pid]);
  for (const service of Object.values(file.services)) {
    for (const replica of service.replicas) {
      add(replica.replica, 'app', [replica.pid!]);
      add(`${replica.replica} dev sidecar`, 'sidecar', [replica.sidecarPid!]);
    }
  }
  // Its backends share its buffers: RSS summed over them counts those pages once per backend,
  // so PostgreSQL counts by PSS in both columns.
  const postgres = [file.postgres!.pid, ...childPids(file.postgres!.pid)];
  add(`postgres (${postgres.length} processes, PSS)`, 'postgres', postgres, true);
  rows.at(-1)!.rss = rows.at(-1)!.pss;
  if (file.postgres!.watchdogPid)
    add('postgres watchdog', 'watchdog', [file.postgres!.watchdogPid]);

  const services = Object.keys(file.services).join(', ');
  console.log(
    `\nmemory of an idle stack: ${services} × ${replicas} replicas, ${idleMs} ms after ready\n`,
  );
  const header = `  ${'process'.padEnd(30)}${'RSS'.padStart(10)}${'× bare node'.padStart(13)}${'PSS'.padStart(10)}`;
  console.log(header);
  const line = (name: string, rss: number, pss?: number) =>
    console.log(
      `  ${name.padEnd(30)}${formatMebibytes(rss).padStart(10)}` +
        `${`×${(rss / baseline).toFixed(2)}`.padStart(13)}${(pss === undefined ? '' : formatMebibytes(pss)).padStart(10)}`,
    );
  line('bare node (baseline)', baseline);
  for (const row of rows) line(row.name, row.rss, row.pss);
  const total = rows.reduce((sum, row) => sum + row.rss, 0);
  const shared = rows.reduce((sum, row) => sum + row.pss, 0);
  // RSS counts the pages every Node process shares (its binary, mostly) once per process.
  line('total', total, shared);

  const largest = (kind: string) =>
    Math.max(...rows.filter((row) => row.kind === kind).map((row) => row.rss));
  const verdict = (bytes: number, target: number) => (bytes <= target ? 'met' : 'MISSED');
  // A decimal: the table's whole MiB would show 80.4 as "80 MiB" beside a missed ≤ 80.
  const exact = (bytes: number) => `${(bytes / mib).toFixed(1)} MiB`;
  console.log(
    `\n  targets (RSS): dev sidecar ≤ 80 MiB (largest ${exact(largest('sidecar'))}) → ` +
      `${verdict(largest('sidecar'), targets.sidecar)}; app ≤ 130 MiB (largest ` +
      `${exact(largest('app'))}) → ${verdict(largest('app'), targets.app)}; ` +
      `stack ≤ 1.5 GiB (total ${exact(total)}) → ${verdict(total, targets.total)}\n`,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
