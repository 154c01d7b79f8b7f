import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startIngressProcess, type IngressProcess } from '@sidecart/dev/ingress';
import { freePort } from '@sidecart/dev/ports';
import { waitUntil } from '@sidecart/dev/processes';

// Reusable pieces for benchmarks through the local ingress: the ingress in its own process as
// `npm start` runs it, apps as child processes, autocannon runs, interleaved rounds, and what a
// process costs (CPU time and resident memory, from /proc).

export interface App {
  port: number;
  pid: number;
  child: ChildProcess;
}

/** Starts `script` with PORT set (and `env`), and waits until `readyPath` answers. */
export async function startApp(
  script: string,
  env: Record<string, string> = {},
  readyPath = '/',
): Promise<App> {
  const port = await freePort();
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const up = await waitUntil(
    () =>
      fetch(`http://127.0.0.1:${port}${readyPath}`).then(
        () => true,
        () => false,
      ),
    30_000,
    100,
  );
  if (!up) throw new Error(`${script} did not answer on ${port} within 30 s`);
  return { port, pid: child.pid!, child };
}

export async function stopApps(apps: App[]): Promise<void> {
  await Promise.all(
    apps.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** The ingress in its own process on a free port, routing each prefix to the given apps. */
export async function startBenchIngress(routes: Record<string, App[]>): Promise<IngressProcess> {
  const ingress = await startIngressProcess({
    port: 0,
    routes: Object.keys(routes).map((prefix) => ({ prefix, service: prefix })),
  });
  for (const [prefix, apps] of Object.entries(routes)) {
    const targets = apps.map((app, index) => ({ replica: `${prefix}-${index}`, port: app.port }));
    ingress.setTargets(prefix, targets);
  }
  return ingress;
}

export async function stopBenchIngress(ingress: IngressProcess): Promise<void> {
  const closed = ingress.close();
  ingress.closeAllConnections();
  await closed;
}

export interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  /** Non-2xx answers and socket errors: a run with any is not a fair figure. */
  failures: number;
  requests: number;
}

export interface LoadOptions {
  connections?: number;
  seconds?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One autocannon run (16 connections, 3 s by default) against `url`. */
export function runLoad(url: string, options: LoadOptions = {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: options.connections ?? 16,
        duration: options.seconds ?? 3,
        method: (options.method ?? 'GET') as 'GET',
        headers: options.headers,
        body: options.body,
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          requestsPerSecond: result.requests.average,
          p99Ms: result.latency.p99,
          failures: result.non2xx + result.errors + result.timeouts,
          requests: result.requests.total,
        });
      },
    );
  });
}

/**
 * Runs baseline and candidate alternately, `rounds` times, so that drift (other load, CPU
 * frequency, GC) hits both alike; the ratio is the median of the per-round ratios.
 */
export async function compareInRounds(
  rounds: number,
  baseline: () => Promise<LoadResult>,
  candidate: () => Promise<LoadResult>,
): Promise<{ baseline: LoadResult; candidate: LoadResult; ratio: number }> {
  const runs = { baseline: [] as LoadResult[], candidate: [] as LoadResult[] };
  for (let round = 0; round < rounds; round++) {
    runs.baseline.push(await baseline());
    runs.candidate.push(await candidate());
  }
  const ratios = runs.candidate.map(
    (run, index) => run.requestsPerSecond / runs.baseline[index]!.requestsPerSecond,
  );
  return {
    baseline: medianRun(runs.baseline),
    candidate: medianRun(runs.candidate),
    ratio: median(ratios),
  };
}

function medianRun(runs: LoadResult[]): LoadResult {
  return {
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    failures: runs.reduce((sum, run) => sum + run.failures, 0),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Resident memory of a process in MiB (VmRSS). */
export function residentMebibytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMillis(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
