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
// the resident set of every process — supervisor, each app, each dev sidecar, PostgreSQL — and
// the total, against a bare Node process started in the same process tree as the baseline.

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
  const rows: Array<{ name: string; kind: string; bytes: number }> = [];
  const add = (name: string, kind: string, bytes: number | undefined) => {
    if (bytes === undefined) throw new Error(`no memory figure for ${name}: not on Linux?`);
    rows.push({ name, kind, bytes });
  };
  add('supervisor + ingress', 'supervisor', residentBytes(file.pid));
  for (const service of Object.values(file.services)) {
    for (const replica of service.replicas) {
      add(replica.replica, 'app', residentBytes(replica.pid!));
      add(`${replica.replica} dev sidecar`, 'sidecar', residentBytes(replica.sidecarPid!));
    }
  }
  // Shared buffers are shared: PSS counts each page once across the postmaster and its backends.
  const postgres = [file.postgres!.pid, ...childPids(file.postgres!.pid)];
  add(
    `postgres (${postgres.length} processes, PSS)`,
    'postgres',
    postgres.reduce((sum, pid) => sum + (proportionalBytes(pid) ?? 0), 0),
  );

  const services = Object.keys(file.services).join(', ');
  console.log(
    `\nmemory of an idle stack: ${services} × ${replicas} replicas, ${idleMs} ms after ready\n`,
  );
  console.log(`  ${'process'.padEnd(34)}${'RSS'.padStart(10)}${'× bare node'.padStart(13)}`);
  const ratio = (bytes: number) => `×${(bytes / baseline).toFixed(2)}`.padStart(13);
  console.log(`  ${'bare node (baseline)'.padEnd(34)}${formatMebibytes(baseline).padStart(10)}`);
  for (const row of rows) {
    console.log(
      `  ${row.name.padEnd(34)}${formatMebibytes(row.bytes).padStart(10)}${ratio(row.bytes)}`,
    );
  }
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  console.log(`  ${'total'.padEnd(34)}${formatMebibytes(total).padStart(10)}`);

  const largest = (kind: string) =>
    Math.max(...rows.filter((r) => r.kind === kind).map((r) => r.bytes));
  const verdict = (bytes: number, target: number) => (bytes <= target ? 'met' : 'MISSED');
  console.log(
    `\n  targets: dev sidecar ≤ 80 MiB (largest ${formatMebibytes(largest('sidecar'))}) → ` +
      `${verdict(largest('sidecar'), targets.sidecar)}; app ≤ 130 MiB (largest ` +
      `${formatMebibytes(largest('app'))}) → ${verdict(largest('app'), targets.app)}; ` +
      `stack ≤ 1.5 GiB → ${verdict(total, targets.total)}\n`,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
