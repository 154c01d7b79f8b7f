import { appendFileSync, closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { privateFileMode } from './private-data.ts';

/** Appends one pino-shaped line, so the runtime's own notes read like the replica's logs. */
export function appendLogNote(file: string, name: string, msg: string): void {
  const line = `${JSON.stringify({ level: 30, time: Date.now(), name, msg })}\n`;
  appendFileSync(file, line, { mode: privateFileMode });
}

/** The last lines of a log file (at most its last 8 KiB), after the last line holding `since`. */
export function logTail(file: string, lines = 6, since?: string): string[] {
  if (!existsSync(file)) return [];
  const size = statSync(file).size;
  const length = Math.min(size, 8192);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  const all = buffer.toString('utf8').trimEnd().split('\n');
  const start = since === undefined ? 0 : all.findLastIndex((line) => line.includes(since)) + 1;
  return all.slice(start).slice(-lines);
}
