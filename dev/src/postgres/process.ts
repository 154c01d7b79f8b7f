import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { postgresBinaries } from './binaries.ts';
import { isAlive, waitUntil } from '../stack/processes.ts';
import { privateFileMode } from '../stack/private-data.ts';

export interface InitdbOptions {
  user: string;
  password: string;
  flags: string[];
  onLog?: (line: string) => void;
}

/** Creates a new cluster in `dataDir` with initdb, owned by the user the server will run as. */
export async function initialiseCluster(dataDir: string, options: InitdbOptions): Promise<void> {
  const binaries = postgresBinaries(options.onLog);
  const { uid, gid } = binaries.user;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // initdb reads the superuser's password from a file that user must be able to read.
  const secrets = mkdtempSync(path.join(os.tmpdir(), 'sidecart-initdb-'));
  chmodSync(secrets, 0o755);
  const passwordFile = path.join(secrets, 'password');
  writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
  if (uid !== undefined && gid !== undefined) {
    chownSync(dataDir, uid, gid);
    chownSync(passwordFile, uid, gid);
  }
  try {
    await promisify(execFile)(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${options.user}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        ...options.flags,
      ],
      { uid, gid },
    );
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`initdb failed in ${dataDir}: ${stderr?.trim() || (error as Error).message}`);
  } finally {
    rmSync(secrets, { recursive: true, force: true });
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
  const binaries = postgresBinaries();
  // Opened by us: the postgres user writes through the descriptor, the file stays ours, 0600.
  const log = openSync(logFile, 'a', privateFileMode);
  const child = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port), ...flags], {
    ...binaries.user,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  return child;
}

const watchdogScript = fileURLToPath(new URL('./watchdog.sh', import.meta.url));
const cleanUpScript = fileURLToPath(new URL('./watchdog.ts', import.meta.url));

export interface WatchdogOptions {
  /** The owner's data folder, whose stack.json names the replicas to wait for. */
  stackDir?: string;
  /** A folder to delete once PostgreSQL is down (an ephemeral cluster's data). */
  remove?: string;
}

/**
 * Stops the postmaster if this process dies without stopping it: a shell loop watches
 * (watchdog.sh), then runs watchdog.ts to clean up.
 */
export function spawnWatchdog(postmasterPid: number, logFile: string, options: WatchdogOptions) {
  const cleanUp = [process.execPath, cleanUpScript, '--postmaster', String(postmasterPid)];
  if (options.stackDir) cleanUp.push('--stack-dir', options.stackDir);
  if (options.remove) cleanUp.push('--remove', options.remove);
  const log = openSync(logFile, 'a', privateFileMode);
  // Detached: a Ctrl-C meant for the supervisor must not stop it.
  const child = spawn('/bin/sh', [watchdogScript, String(postmasterPid), ...cleanUp], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  return child;
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
