import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@sidecart/dev/ports';
import { isAlive, waitUntil } from '@sidecart/dev/processes';

// Drives the real local runtime (`node dev/src/start.ts`) as a child process, the way a developer
// runs `npm start`, but on free ports and a throw-away data folder, so it never meets a running
// `npm start` or another test file.

const repoRoot = path.resolve(import.meta.dirname, '../..');

/** The parts of `.data/stack.json` that system tests read (dev/src/stack/stack-file.ts has it all). */
export interface StackFile {
  pid: number;
  state: 'starting' | 'running' | 'stopping';
  ready: boolean;
  ingress: { url: string; port: number };
  postgres: { port: number; dataDir: string; pid: number } | null;
  /** With `--sidecar daprd` only. */
  redis?: { address: string; pid: number };
  services: Record<
    string,
    {
      prefixes: string[];
      replicas: Array<{
        replica: string;
        appPort: number | null;
        pid: number | null;
        sidecarPort: number | null;
        sidecarPid: number | null;
        state: string;
        restarts: number;
      }>;
    }
  >;
}

export interface StopResult {
  exitCode: number | null;
  /** Recorded pids (supervisor, replicas, postmaster) still alive after the supervisor exited. */
  alivePids: number[];
}

export interface RunningStack {
  baseUrl: string;
  stack: StackFile;
  dataDir: string;
  /** Re-reads stack.json (pids change when replicas restart). */
  current(): StackFile;
  /** What the runtime printed so far, for failure messages. */
  output(): string;
  /** Ctrl-C: SIGINT, wait for the supervisor to exit, report what is still alive. */
  stop(): Promise<StopResult>;
}

export interface StartOptions {
  replicas?: number;
  services?: string[];
  readyTimeoutMs?: number;
}

/**
 * The sidecar beside every replica: the dev sidecar, or real daprd in the daprd system lane
 * (test/jest.daprd.config.js sets SIDECART_E2E_SIDECAR=daprd).
 */
export const e2eSidecar = process.env.SIDECART_E2E_SIDECAR === 'daprd' ? 'daprd' : 'dev';

export async function startStack(options: StartOptions = {}): Promise<RunningStack> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sidecart-e2e-'));
  chmodSync(dataDir, 0o755);
  const args = ['--port', String(await freePort()), '--pg-port', String(await freePort())];
  args.push('--data-dir', dataDir, '--replicas', String(options.replicas ?? 2));
  args.push('--sidecar', e2eSidecar);
  if (options.services) args.push('--services', options.services.join(','));
  // The guard makes the stack drain itself if this jest worker dies without stopping it.
  const guard = path.join(repoRoot, 'dev/src/replicas/orphan-guard.ts');
  const child = spawn(
    process.execPath,
    ['--import', guard, path.join(repoRoot, 'dev/src/start.ts'), ...args],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const read = () => readStack(dataDir);

  await waitUntil(
    () => child.exitCode !== null || read()?.ready === true,
    options.readyTimeoutMs ?? 60_000,
  );
  if (child.exitCode !== null || read()?.ready !== true) {
    child.kill('SIGINT');
    await exited;
    throw new Error(`the stack did not become ready (exit code ${child.exitCode}):\n${output}`);
  }
  const stack = read()!;
  return {
    baseUrl: stack.ingress.url,
    stack,
    dataDir,
    current: () => read()!,
    output: () => output,
    async stop() {
      const pids = recordedPids(read() ?? stack);
      child.kill('SIGINT');
      if (!(await waitUntil(() => child.exitCode !== null, 30_000))) child.kill('SIGKILL');
      const exitCode = await exited;
      const alivePids = pids.filter(isAlive);
      if (alivePids.length === 0) rmSync(dataDir, { recursive: true, force: true });
      return { exitCode, alivePids };
    },
  };
}

export function recordedPids(stack: StackFile): number[] {
  const replicas = Object.values(stack.services).flatMap((service) =>
    service.replicas.flatMap((r) => [r.pid, r.sidecarPid]),
  );
  return [stack.pid, stack.postgres?.pid, ...replicas].filter(
    (pid): pid is number => typeof pid === 'number',
  );
}

function readStack(dataDir: string): StackFile | undefined {
  const file = path.join(dataDir, 'stack.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackFile;
  } catch {
    return undefined;
  }
}
