import { readdirSync, readFileSync } from 'node:fs';

// CPU time per process from /proc, for the products benchmark's "where does a request go" rows.

const clockTicks = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
export function cpuMillis(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return 0;
  }
}

/** A process and its children (PostgreSQL: the postmaster and its backends). */
export function withChildren(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

export type Processes = Record<string, () => number[]>;

/**
 * Wraps a measured run: adds the CPU time each group of processes spent during it (in ms) and
 * the requests it answered to `totals`.
 */
export function measuringCpu<T extends { count: number }>(
  processes: Processes,
  totals: { ms: Record<string, number>; requests: number },
  run: () => Promise<T>,
): () => Promise<T> {
  const read = () =>
    Object.fromEntries(
      Object.entries(processes).map(([name, pids]) => [
        name,
        pids().reduce((sum, pid) => sum + cpuMillis(pid), 0),
      ]),
    );
  return async () => {
    const before = read();
    const result = await run();
    const after = read();
    for (const name of Object.keys(processes)) {
      totals.ms[name] = (totals.ms[name] ?? 0) + after[name]! - before[name]!;
    }
    totals.requests += result.count;
    return result;
  };
}
