import { readdirSync, readFileSync } from 'node:fs';

// CPU time per process from /proc, for the products benchmark's "where does a request go" rows.

const clockTicks = 100; // USER_HZ on Linux

/**
 * CPU time (user + system) a process has used so far, in ms; 0 once it is gone. With
 * `reaped`, also that of its children that exited and were waited for.
 */
export function cpuMillis(pid: number, reaped = false): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    const children = reaped ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((own + children) * 1000) / clockTicks;
  } catch {
    return 0;
  }
}

/**
 * CPU time of a process and of all its children, live or exited (PostgreSQL: the postmaster and
 * its backends, which come and go with the pools' connections).
 */
export function treeCpuMillis(pid: number): number {
  return childrenOf(pid).reduce((sum, child) => sum + cpuMillis(child), cpuMillis(pid, true));
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
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
}

/** Groups of processes by name, each read as the CPU time it used so far (ms). */
export type Processes = Record<string, () => number>;

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
    Object.fromEntries(Object.entries(processes).map(([name, cpuOf]) => [name, cpuOf()]));
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
