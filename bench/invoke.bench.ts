import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '@sidecart/dev/ports';
import { startScratchPostgres } from '@sidecart/dev/postgres';
import { waitUntil } from '@sidecart/dev/processes';
import { sidecarNodeOptions, sidecarScript } from '@sidecart/dev/dapr-runtime';
import { benchChildren } from './children.ts';
import { cpuMillis } from './products-cpu.ts';

// Service invocation latency: a direct HTTP call to an app vs the same call through two dev
// sidecars (caller sidecar → callee sidecar → app), as a pod calls another through daprd.
// Both run in the same process tree on the same machine, interleaved in rounds so drift (CPU
// frequency, GC, other load) hits both alike. One request at a time: this measures added latency,
// not throughput. Real daprd publishes +1.06 ms p50 and +2.90 ms p99 for the same path; the
// targets are ≤ +1 ms and ≤ +2.9 ms. Each sidecar's CPU time (from /proc) over the measured
// rounds, divided by the invocations, is its CPU per call (it idles while the direct rows run).
// BENCH_RESILIENCY=1 gives the echo target the stack's resiliency policies (invoke-resiliency/).
// BENCH_SIDECAR_SCRIPT=<main.ts> runs another build of the sidecar (a before/after comparison).
// BENCH_CPU_PROF=<folder> writes the sidecars' V8 CPU profiles there (node --cpu-prof).

const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const perRound = Number(process.env.BENCH_REQUESTS ?? 500);
const warmup = 1000;

const { start, stopAll } = benchChildren();
const { root, postgres } = await startScratchPostgres('sidecart-bench-');

try {
  await postgres.ensureDatabase('dapr');
  const [appPort, calleePort, callerPort] = [await freePort(), await freePort(), await freePort()];
  const common = {
    ...process.env,
    LOG_LEVEL: 'warn',
    DAPR_RESOURCES_PATH: path.join(
      import.meta.dirname,
      process.env.BENCH_RESILIENCY === '1' ? 'invoke-resiliency' : 'resources',
    ),
    SIDECAR_DATABASE_URL: postgres.url('dapr'),
    // As under `npm start`: the stack's shared secret, the sidecars' V8 settings.
    SIDECAR_INTERNAL_TOKEN: randomBytes(24).toString('base64url'),
    NODE_OPTIONS: process.env.BENCH_CPU_PROF
      ? `${sidecarNodeOptions} --cpu-prof --cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`
      : sidecarNodeOptions,
  };
  start(path.join(import.meta.dirname, 'echo-app.ts'), { PORT: String(appPort) });
  const callee = start(process.env.BENCH_SIDECAR_SCRIPT ?? sidecarScript, {
    ...common,
    APP_ID: 'echo',
    APP_PORT: String(appPort),
    DAPR_HTTP_PORT: String(calleePort),
  });
  const caller = start(process.env.BENCH_SIDECAR_SCRIPT ?? sidecarScript, {
    ...common,
    APP_ID: 'bench',
    DAPR_HTTP_PORT: String(callerPort),
  });
  const sidecarCpu = () => [cpuMillis(caller.pid!), cpuMillis(callee.pid!)] as const;

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const direct = { port: appPort, path: '/echo' };
  const invoked = { port: callerPort, path: '/v1.0/invoke/echo/method/echo' };
  const up = await waitUntil(
    async () => (await get(agent, invoked).catch(() => 0)) === 200,
    30_000,
    100,
  );
  if (!up) throw new Error('the sidecars did not come up within 30 s');

  for (let i = 0; i < warmup; i++) await Promise.all([time(agent, direct), time(agent, invoked)]);
  const samples = { direct: [] as number[], invoked: [] as number[] };
  const cpuBefore = sidecarCpu();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) samples.direct.push(await time(agent, direct));
    for (let i = 0; i < perRound; i++) samples.invoked.push(await time(agent, invoked));
  }
  const cpuAfter = sidecarCpu();
  agent.destroy();
  report(samples);
  const perCall = (index: 0 | 1) =>
    (((cpuAfter[index] - cpuBefore[index]) / samples.invoked.length) * 1000).toFixed(0);
  console.log(
    `  sidecar CPU per invocation (/proc, 10 ms ticks): caller ${perCall(0)} µs, callee ${perCall(1)} µs\n`,
  );
} finally {
  await stopAll();
  await postgres.stop();
  rmSync(root, { recursive: true, force: true });
}

function get(agent: http.Agent, target: { port: number; path: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', agent, ...target }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
  });
}

/** One request's latency in ms; a non-200 answer fails the run. */
async function time(agent: http.Agent, target: { port: number; path: string }): Promise<number> {
  const startedAt = process.hrtime.bigint();
  const status = await get(agent, target);
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  if (status !== 200) throw new Error(`${target.path} answered ${status}`);
  return ms;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(samples: { direct: number[]; invoked: number[] }): void {
  const rows = Object.entries(samples).map(([name, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return {
      name,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
    };
  });
  const [direct, invoked] = rows as [(typeof rows)[0], (typeof rows)[0]];
  const ms = (value: number) => `${value.toFixed(3)} ms`.padStart(10);
  console.log(`\ninvocation latency, ${rounds}×${perRound} sequential requests per path\n`);
  console.log(
    `  ${'path'.padEnd(34)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'p99'.padStart(10)}`,
  );
  for (const row of rows) {
    const label = row.name === 'direct' ? 'direct HTTP to the app' : 'via caller + callee sidecars';
    console.log(`  ${label.padEnd(34)}${ms(row.p50)}${ms(row.p90)}${ms(row.p99)}`);
  }
  const added = invoked.p50 - direct.p50;
  const addedTail = invoked.p99 - direct.p99;
  console.log(
    `\n  added by two sidecars: p50 +${added.toFixed(3)} ms (×${(invoked.p50 / direct.p50).toFixed(2)}),` +
      ` p99 +${addedTail.toFixed(3)} ms (×${(invoked.p99 / direct.p99).toFixed(2)})`,
  );
  console.log(
    `  targets: p50 added ≤ 1 ms (real daprd: +1.06 ms) → ${added <= 1 ? 'met' : 'MISSED'};` +
      ` p99 added ≤ 2.9 ms (real daprd: +2.90 ms) → ${addedTail <= 2.9 ? 'met' : 'MISSED'}\n`,
  );
}
