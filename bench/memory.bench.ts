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
// service of the catalog, 2 replicas each), on free ports and a throw-away data folder. Reports
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
  await sleep(idleMs);
  report(readStackFile(dataDir)!, residentBytes(bare.pid!)!);
} finally {
  bare.kill();
  stack.kill('SIGINT');
  await exited(stack);
  rmSync(dataDir, { recursive: true, force: true });
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
  console.log(
    `\n  targets (RSS): dev sidecar ≤ 80 MiB (largest ${formatMebibytes(largest('sidecar'))}) → ` +
      `${verdict(largest('sidecar'), targets.sidecar)}; app ≤ 130 MiB (largest ` +
      `${formatMebibytes(largest('app'))}) → ${verdict(largest('app'), targets.app)}; ` +
      `stack ≤ 1.5 GiB → ${verdict(total, targets.total)}\n`,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
