import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { appendLogNote } from '../stack/log-files.ts';
import { privateFileMode } from '../stack/private-data.ts';

export interface ReplicaLaunch {
  replica: string;
  script: string;
  cwd: string;
  env: Record<string, string | undefined>;
  port: number;
  logFile: string;
  /** When set, output is also streamed here line by line (`--logs`). */
  onOutput?: (replica: string, line: string) => void;
}

/** Marks each start in the log, so a crash report shows the last run only. */
export const startedNote = (replica: string) => `dev: started ${replica}`;

const orphanGuard = new URL('./orphan-guard.ts', import.meta.url).href;

/** Starts one replica process on the Node that runs the runtime, its output going to its log. */
export function spawnReplica(launch: ReplicaLaunch): ChildProcess {
  // Without --logs the replica writes straight into its log file: no pipe through us to break.
  const logFd = launch.onOutput ? undefined : openSync(launch.logFile, 'a', privateFileMode);
  const child = spawn(process.execPath, ['--import', orphanGuard, launch.script], {
    cwd: launch.cwd,
    env: { ...launch.env, PORT: String(launch.port) },
    // Own process group: a Ctrl-C in the terminal reaches the supervisor only, which drains us.
    detached: true,
    stdio: logFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', logFd, logFd],
  });
  if (logFd !== undefined) closeSync(logFd);
  if (launch.onOutput)
    streamOutput(child, launch.logFile, (line) => launch.onOutput!(launch.replica, line));
  appendLogNote(
    launch.logFile,
    'dev',
    `${startedNote(launch.replica)} pid ${child.pid} port ${launch.port}`,
  );
  return child;
}

function streamOutput(child: ChildProcess, logFile: string, onLine: (line: string) => void): void {
  const file = createWriteStream(logFile, { flags: 'a', mode: privateFileMode });
  let open = 2;
  for (const stream of [child.stdout!, child.stderr!]) {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      file.write(`${line}\n`);
      onLine(line);
    });
    lines.on('close', () => --open === 0 && file.end());
  }
}
