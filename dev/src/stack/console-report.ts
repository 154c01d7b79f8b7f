import path from 'node:path';
import { styleText } from 'node:util';
import { componentsDir } from './dapr-runtime.ts';
import { formatMebibytes, residentBytes } from './memory.ts';
import type { StackFile } from './stack-file.ts';

type Style = Parameters<typeof styleText>[0];

const paint = (style: Style, text: string) => styleText(style, text, { stream: process.stdout });

/** Paths under the current folder read better relative. */
export function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Progress and events of the local runtime, for a human at a terminal. */
export const report = {
  step(text: string, ms?: number) {
    const time = ms === undefined ? '' : paint('dim', ` (${formatMs(ms)})`);
    console.log(`  ${paint('green', '✔')} ${text}${time}`);
  },
  note(text: string) {
    console.log(`  ${paint('dim', text)}`);
  },
  warn(text: string, details: string[] = []) {
    console.log(`  ${paint('yellow', '!')} ${text}`);
    for (const line of details) console.log(paint('dim', `      ${line}`));
  },
  error(text: string) {
    console.error(`  ${paint('red', '✖')} ${text}`);
  },
  output(replica: string, line: string) {
    console.log(`${paint('cyan', `[${replica}]`)} ${readableLogLine(line)}`);
  },
  summary(stack: StackFile, ms: number, sidecar: 'dev' | 'daprd' = 'dev') {
    console.log(`\n${replicaTable(stack)}\n`);
    const routes = Object.entries(stack.services)
      .flatMap(([name, service]) => service.prefixes.map((prefix) => `${prefix} → ${name}`))
      .join(', ');
    const rows = [
      ['ingress', `http://localhost:${stack.ingress.port}   ${routes}`],
      [
        'postgres',
        `127.0.0.1:${stack.postgres?.port}   data ${shortPath(stack.postgres?.dataDir ?? '')}`,
      ],
      [
        'logs',
        `${shortPath(stack.logsDir)}/<replica>.log, <replica>-daprd.log   (--logs streams them here)`,
      ],
      [
        'dapr',
        sidecar === 'daprd'
          ? `daprd sidecars read a local copy of ${shortPath(componentsDir)}/ (DAPR column: their HTTP API ports)`
          : `dev sidecars read ${shortPath(componentsDir)}/ (DAPR column: their HTTP API ports)`,
      ],
      ['topology', shortPath(path.join(stack.dataDir, 'stack.json'))],
    ];
    for (const [label, value] of rows) console.log(`  ${paint('bold', label!.padEnd(9))} ${value}`);
    console.log(`\n${paint('green', `Ready in ${formatMs(ms)}.`)} Press Ctrl-C to stop.`);
  },
};

const levelNames: Record<number, [string, Style]> = {
  10: ['TRACE', 'dim'],
  20: ['DEBUG', 'dim'],
  30: ['INFO', 'green'],
  40: ['WARN', 'yellow'],
  50: ['ERROR', 'red'],
  60: ['FATAL', 'red'],
};

/** A pino JSON line as `12:00:01 INFO message key=value`; anything else unchanged. */
function readableLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, service: _service, replica: _replica, name: _name, ...rest } = entry;
  const [label, style] = levelNames[Number(level)] ?? [String(level), 'dim'];
  const clock = new Date(time as string | number).toTimeString().slice(0, 8);
  const extra = Object.entries(rest).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return [paint('dim', clock), paint(style, label.padEnd(5)), msg, ...extra].join(' ');
}

function replicaTable(stack: StackFile): string {
  const header = ['SERVICE', 'REPLICA', 'URL', 'DAPR', 'PID', 'STATE', 'RESTARTS', 'RSS APP+DAPR'];
  const rows = Object.entries(stack.services).flatMap(([name, service]) =>
    service.replicas.map((replica) => [
      name,
      replica.replica,
      replica.appPort ? `http://127.0.0.1:${replica.appPort}` : '-',
      replica.sidecarPort ? `:${replica.sidecarPort}` : '-',
      String(replica.pid ?? '-'),
      replica.state,
      String(replica.restarts),
      `${memoryOf(replica.pid)} + ${memoryOf(replica.sidecarPid)}`,
    ]),
  );
  const supervisor = formatMebibytes(residentBytes(process.pid));
  const ingress = formatMebibytes(residentBytes(stack.ingress.pid));
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows].map((row) => row[column]!.length)),
  );
  const line = (row: string[]) =>
    `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd();
  const footer = paint(
    'dim',
    `  RSS: resident memory now; this supervisor ${supervisor}, the ingress ${ingress}`,
  );
  return [paint('bold', line(header)), ...rows.map(line), footer].join('\n');
}

const memoryOf = (pid: number | null) =>
  formatMebibytes(pid === null ? undefined : residentBytes(pid));
