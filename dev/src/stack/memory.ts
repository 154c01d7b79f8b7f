import { readdirSync, readFileSync } from 'node:fs';

// Linux's /proc is the source; elsewhere (macOS) memory figures are simply absent.

/** A process's resident set size in bytes (VmRSS), or undefined when unknown or gone. */
export function residentBytes(pid: number): number | undefined {
  return kibibytesIn(`/proc/${pid}/status`, /^VmRSS:\s+(\d+) kB$/m);
}

/**
 * Its proportional set size in bytes: shared pages divided among the processes sharing them.
 * Summing RSS over PostgreSQL's backends would count its shared buffers once per backend.
 */
export function proportionalBytes(pid: number): number | undefined {
  return kibibytesIn(`/proc/${pid}/smaps_rollup`, /^Pss:\s+(\d+) kB$/m);
}

/** The pids of a process's children (one level), for PostgreSQL's backends. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

export const formatMebibytes = (bytes: number | undefined): string =>
  bytes === undefined ? '-' : `${Math.round(bytes / 1024 / 1024)} MiB`;

function kibibytesIn(file: string, pattern: RegExp): number | undefined {
  try {
    const match = pattern.exec(readFileSync(file, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
