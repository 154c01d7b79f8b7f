import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from './processes.ts';
import { privateFileMode } from './private-data.ts';
import type { ReplicaStatus } from '../replicas/replica.ts';

/** `.data/stack.json`: the live topology, for tests, benchmarks and chaos tooling. */
export interface StackFile {
  /** The supervisor (`npm start`) process. */
  pid: number;
  startedAt: string;
  state: 'starting' | 'running' | 'stopping';
  /** Every replica became healthy once and the ingress routes: the stack can take traffic. */
  ready: boolean;
  dataDir: string;
  logsDir: string;
  /** The ingress process (restarted on the same port if it dies, with a new pid). */
  ingress: { url: string; port: number; pid: number };
  postgres: { port: number; dataDir: string; pid: number; watchdogPid: number } | null;
  services: Record<string, { prefixes: string[]; database: string; replicas: ReplicaStatus[] }>;
  /** `--sidecar daprd`: the Redis that serves pubsub.redis (the dev sidecar needs none). */
  redis?: { address: string; pid: number };
}

export function stackFilePath(dataDir: string): string {
  return path.join(dataDir, 'stack.json');
}

export function readStackFile(dataDir: string): StackFile | undefined {
  const file = stackFilePath(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackFile;
  } catch {
    return undefined;
  }
}

/** Readers never see half a file: write a sibling, then rename over. */
export function writeStackFile(dataDir: string, stack: StackFile): void {
  const file = stackFilePath(dataDir);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(stack, null, 2)}\n`, { mode: privateFileMode });
  renameSync(temporary, file);
}

export function removeStackFile(dataDir: string): void {
  rmSync(stackFilePath(dataDir), { force: true });
}

/** The stack that a live supervisor other than us recorded in this data folder. */
export function liveStack(dataDir: string): StackFile | undefined {
  const stack = readStackFile(dataDir);
  return stack && stack.pid !== process.pid && isAlive(stack.pid) ? stack : undefined;
}

export function describeLiveStack(stack: StackFile, dataDir: string): string {
  return (
    `a stack is already running from ${dataDir} (supervisor pid ${stack.pid}, ` +
    `ingress ${stack.ingress.url}): stop it with Ctrl-C in its terminal or \`kill -INT ${stack.pid}\`, ` +
    `or use another --data-dir`
  );
}
