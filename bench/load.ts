import { createRequire } from 'node:module';
import type pg from 'pg';

// Load generation for the benchmarks: autocannon runs, the direct-SQL baseline with the same
// number of clients, and rounds that interleave a baseline with its candidates.

const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: Record<string, unknown>,
) => Promise<{
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}>;

export interface Load {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
  /** Answers by status code; socket errors and timeouts under `error`. */
  statuses: Record<string, number>;
}

export interface LoadSettings {
  connections: number;
  seconds: number;
}

export interface Request {
  method?: string;
  headers?: Record<string, string>;
  /** A fresh body per request. */
  body?: () => string;
  /** Headers of each request's own, on top of `headers`. */
  freshHeaders?: () => Record<string, string>;
}

export async function runLoad(url: string, settings: LoadSettings, request: Request = {}) {
  const { method = 'GET', headers = {}, body, freshHeaders } = request;
  const result = await autocannon({
    url,
    connections: settings.connections,
    duration: settings.seconds,
    requests: [
      {
        method,
        headers,
        ...((body || freshHeaders) && {
          setupRequest: (req: { headers: Record<string, string> }) => ({
            ...req,
            ...(body && { body: body() }),
            ...(freshHeaders && { headers: { ...req.headers, ...freshHeaders() } }),
          }),
        }),
      },
    ],
  });
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
  );
  if (result.errors + result.timeouts > 0) statuses.error = result.errors + result.timeouts;
  return {
    perSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    count: result.requests.total,
    statuses,
  } satisfies Load;
}

/**
 * `work` over and over from `settings.connections` loops for `settings.seconds`, like autocannon
 * does; the rate is over the time the loops took (each finishes the request it started in time).
 */
export async function runLoops(
  settings: LoadSettings,
  work: () => Promise<unknown>,
): Promise<Load> {
  const latencies: number[] = [];
  const startedAt = Date.now();
  const deadline = startedAt + settings.seconds * 1000;
  const loop = async () => {
    while (Date.now() < deadline) {
      const started = process.hrtime.bigint();
      await work();
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: settings.connections }, loop));
  const elapsed = (Date.now() - startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    count: latencies.length,
    statuses: { ok: latencies.length },
  };
}

/** `statement` over and over from `settings.connections` clients of `db`. */
export const runSql = (db: pg.Pool, settings: LoadSettings, statement: () => [string, unknown[]]) =>
  runLoops(settings, () => db.query(...statement()));

export interface Compared {
  /** Median of the round's figures. */
  load: Load;
  /** Median over rounds of (this row's req/s ÷ the baseline's req/s in the same round). */
  ratio: number;
  /** Median over rounds of (this row's p99 ÷ the baseline's p99 in the same round). */
  p99Ratio: number;
}

/**
 * Runs the baseline and each candidate in turn, `rounds` times, so that the load of the machine
 * (other processes, CPU frequency, GC) hits all of them alike; each ratio is taken within a round.
 */
export async function compareInRounds<Name extends string>(
  rounds: number,
  rows: Record<Name, () => Promise<Load>>,
  baseline: NoInfer<Name>,
): Promise<Record<Name, Compared>> {
  const names = Object.keys(rows) as Name[];
  const runs = new Map<Name, Load[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) runs.get(name)!.push(await rows[name]());
  }
  const base = runs.get(baseline)!;
  const compared = (loads: Load[]): Compared => ({
    load: {
      perSecond: median(loads.map((load) => load.perSecond)),
      p50Ms: median(loads.map((load) => load.p50Ms)),
      p99Ms: median(loads.map((load) => load.p99Ms)),
      count: loads.reduce((sum, load) => sum + load.count, 0),
      statuses: sumStatuses(loads),
    },
    ratio: median(loads.map((load, round) => load.perSecond / base[round]!.perSecond)),
    p99Ratio: median(loads.map((load, round) => load.p99Ms / Math.max(base[round]!.p99Ms, 1))),
  });
  return Object.fromEntries(names.map((name) => [name, compared(runs.get(name)!)])) as Record<
    Name,
    Compared
  >;
}

function sumStatuses(loads: Load[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const load of loads) {
    for (const [code, count] of Object.entries(load.statuses)) sum[code] = (sum[code] ?? 0) + count;
  }
  return sum;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
