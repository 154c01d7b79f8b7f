import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { logTail } from '../stack/log-files.ts';
import { privateFileMode } from '../stack/private-data.ts';
import { signalGroup } from '../stack/processes.ts';

export interface Migration {
  service: string;
  script: string;
  env: Record<string, string | undefined>;
  cwd: string;
  logFile: string;
}

/** Runs a service's migrate script to completion; throws with the end of its log if it fails. */
export function runMigration(migration: Migration, timeoutMs = 120_000): Promise<void> {
  const log = openSync(migration.logFile, 'a', privateFileMode);
  const child = spawn(process.execPath, [migration.script], {
    cwd: migration.cwd,
    env: migration.env,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const timer = setTimeout(() => child.pid && signalGroup(child.pid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const tail = logTail(migration.logFile, 10)
        .map((line) => `    ${line}`)
        .join('\n');
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(
        new Error(
          `${migration.service}: migrations failed (${how}); ${migration.logFile} ends with:\n${tail}`,
        ),
      );
    });
  });
}
