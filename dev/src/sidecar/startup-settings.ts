import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { SidecarProcessConfig } from './config.ts';
import type { Resources } from './types.ts';

/** What settings-reader.ts prints: the settings, or what was wrong with them. */
export type StartupSettings =
  | { config: SidecarProcessConfig; resources: Resources }
  | { configError: string }
  | { config: SidecarProcessConfig; resourceProblems: string[] }
  | { config: SidecarProcessConfig; failure: string };

const readerScript = path.join(import.meta.dirname, 'settings-reader.ts');

/**
 * The process settings and the Dapr resources, read by a short-lived child process: checking them
 * takes zod and yaml, and an ES module once loaded stays resident for the life of the process
 * (about 6 MiB of a sidecar's 80 MiB target, ADR 0013). Costs the sidecar's start one Node start-up.
 */
export function readStartupSettings(): StartupSettings {
  const reader = spawnSync(process.execPath, [readerScript], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (reader.status !== 0 || reader.error) {
    const reason = reader.error?.message ?? `exit ${reader.status ?? reader.signal}`;
    throw new Error(`the dev sidecar could not read its settings (${reason})`);
  }
  return JSON.parse(reader.stdout) as StartupSettings;
}
