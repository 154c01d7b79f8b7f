import net from 'node:net';
import path from 'node:path';
import {
  compareInRounds,
  cpuMillis,
  residentMebibytes,
  runLoad,
  startApp,
  startBenchIngress,
  stopApps,
  stopBenchIngress,
  type App,
  type LoadResult,
} from './ingress-harness.ts';

// Throughput of the local ingress: a small GET served directly by one replica vs the same GET
// through the ingress (its own process, as `npm start` runs it) with two replicas behind it.
// Same run, same machine, interleaved rounds. The replica is the chassis around one route (what
// a service replica is); a bare node:http app is measured too, as the harshest baseline.
// Then the ingress's resident memory before and after 200 connections each send 960 KiB of a
// declared 1 MiB body.

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const here = import.meta.dirname;
const apps: App[] = [];
const started = async (script: string, readyPath: string, replica: string) => {
  const app = await startApp(path.join(here, script), { SERVICE_REPLICA: replica }, readyPath);
  apps.push(app);
  return app;
};

try {
  const service = [
    await started('ingress-app.ts', '/healthz', 'bench-0'),
    await started('ingress-app.ts', '/healthz', 'bench-1'),
  ];
  const bare = [
    await started('echo-app.ts', '/echo', 'echo-0'),
    await started('echo-app.ts', '/echo', 'echo-1'),
  ];
  const ingress = await startBenchIngress({ '/api/bench': service, '/echo': bare });
  try {
    const load = (url: string) => () => runLoad(url, { seconds });
    // Warm-up: JIT, connection pools.
    await runLoad(`${ingress.url}/api/bench/item`, { seconds: 1 });
    await runLoad(`${ingress.url}/echo`, { seconds: 1 });

    const cpuBefore = cpuMillis(ingress.pid);
    const replica = await compareInRounds(
      rounds,
      load(`http://127.0.0.1:${service[0]!.port}/api/bench/item`),
      load(`${ingress.url}/api/bench/item`),
    );
    const nodeHttp = await compareInRounds(
      rounds,
      load(`http://127.0.0.1:${bare[0]!.port}/echo`),
      load(`${ingress.url}/echo`),
    );
    const proxied = replica.candidate.requests + nodeHttp.candidate.requests;
    const cpuPerRequest = ((cpuMillis(ingress.pid) - cpuBefore) * 1000) / proxied;

    const memory = await largeBodies(ingress.port, ingress.pid);
    report(replica, nodeHttp, cpuPerRequest, memory);
  } finally {
    await stopBenchIngress(ingress);
  }
} finally {
  await stopApps(apps);
}

/** 200 connections each send 960 KiB of a declared 1 MiB body, as the issue measured. */
async function largeBodies(port: number, pid: number) {
  const before = residentMebibytes(pid);
  const connections = 200;
  const sent = Buffer.alloc(960 * 1024, 'x');
  const head =
    `POST /api/bench/upload HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n` +
    `content-length: ${1024 * 1024}\r\n\r\n`;
  let peak = before;
  let answered = 0;
  const sockets = Array.from({ length: connections }, () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('data', () => answered++);
    socket.write(head);
    socket.write(sent);
    return socket;
  });
  const deadline = Date.now() + 30_000;
  while (answered < connections && Date.now() < deadline) {
    peak = Math.max(peak, residentMebibytes(pid));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const socket of sockets) socket.destroy();
  return { before, peak, after: residentMebibytes(pid), answered, connections };
}

function report(
  replica: { baseline: LoadResult; candidate: LoadResult; ratio: number },
  nodeHttp: { baseline: LoadResult; candidate: LoadResult; ratio: number },
  cpuMicrosPerRequest: number,
  memory: Awaited<ReturnType<typeof largeBodies>>,
): void {
  const row = (label: string, run: LoadResult) =>
    `  ${label.padEnd(44)}${run.requestsPerSecond.toFixed(0).padStart(10)}` +
    `${`${run.p99Ms.toFixed(0)} ms`.padStart(10)}${String(run.failures).padStart(10)}`;
  console.log(`\ningress throughput, small GET, 16 connections, ${rounds}×${seconds} s per path\n`);
  console.log(
    `  ${'path'.padEnd(44)}${'req/s'.padStart(10)}${'p99'.padStart(10)}${'failed'.padStart(10)}`,
  );
  console.log(row('chassis replica, direct', replica.baseline));
  console.log(row('through the ingress (2 replicas)', replica.candidate));
  console.log(row('bare node:http app, direct', nodeHttp.baseline));
  console.log(row('through the ingress (2 bare apps)', nodeHttp.candidate));
  console.log(
    `\n  ingress / direct replica: ×${replica.ratio.toFixed(2)} (target ≥ 0.5 → ` +
      `${replica.ratio >= 0.5 ? 'met' : 'MISSED'}); vs bare node:http: ×${nodeHttp.ratio.toFixed(2)}`,
  );
  console.log(`  ingress CPU per proxied request: ${cpuMicrosPerRequest.toFixed(0)} µs`);
  const mib = (value: number) => `${value.toFixed(0)} MiB`;
  console.log(
    `\n  ingress RSS, ${memory.connections} connections × 960 KiB of a declared 1 MiB body: ` +
      `${mib(memory.before)} before, ${mib(memory.peak)} peak, ${mib(memory.after)} after; ` +
      `${memory.answered}/${memory.connections} answered\n`,
  );
  const failures = replica.candidate.failures + nodeHttp.candidate.failures;
  if (failures > 0) process.exitCode = 1;
}
