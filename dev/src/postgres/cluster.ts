import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  exitedEarly,
  initialiseCluster,
  livePostmasterPid,
  spawnPostmaster,
  spawnWatchdog,
  stopPostmaster,
} from './process.ts';
import { isTraversableByOthers } from './paths.ts';
import { freePort } from '../stack/ports.ts';
import { isAlive, waitUntil } from '../stack/processes.ts';

export { isAlive };

/** Local-only credentials of the embedded cluster: never used outside this machine. */
export const DEV_PG_USER = 'postgres';
export const DEV_PG_PASSWORD = 'sidecart-local-dev';

export interface PostgresServer {
  port: number;
  dataDir: string;
  /** The postmaster's pid. */
  pid: number;
  /** The process that stops the postmaster if its owner dies without doing so. */
  watchdogPid: number;
  /** Whether this start ran initdb (a new, empty cluster). */
  initialised: boolean;
  /** A connection URL for one database of this cluster. */
  url(database: string): string;
  /** Creates the database unless it exists already. */
  ensureDatabase(name: string): Promise<void>;
  /** Resolves if the postmaster exits on its own (not through stop()). */
  crashed: Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  dataDir: string;
  /** The preferred port; a free one when it is taken. */
  port: number;
  /** The data folder of the stack this cluster serves (see watchdog.ts). */
  stackDir?: string;
  /** Test clusters trade durability for speed: no fsync, removed on stop. */
  ephemeral?: boolean;
  /** Where the server writes its log; by default `server.log` in the data folder. */
  logFile?: string;
  onLog?: (line: string) => void;
}

/**
 * A throw-away cluster (tests, benchmarks) in a new folder `<tmp>/<prefix>XXXXXX`, returned as
 * `root` for the caller's other files and for removing it all afterwards.
 */
export async function startScratchPostgres(
  prefix: string,
): Promise<{ root: string; postgres: PostgresServer }> {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  // mkdtemp makes it 0700; the postgres user (when we run as root) must reach the data below.
  chmodSync(root, 0o755);
  const postgres = await startPostgres({
    dataDir: path.join(root, 'pg'),
    port: await freePort(),
    ephemeral: true,
  });
  return { root, postgres };
}

/** Starts (initialising on first use) an embedded PostgreSQL cluster. */
export async function startPostgres(options: StartPostgresOptions): Promise<PostgresServer> {
  const dataDir = postgresDataDir(options.dataDir);
  if (dataDir !== path.resolve(options.dataDir)) {
    options.onLog?.(
      `note: ${path.dirname(path.resolve(options.dataDir))} is not reachable by the postgres user; ` +
        `keeping PostgreSQL data in ${dataDir} instead`,
    );
  }
  mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  // Before choosing the port: an orphan from a killed stack still holds the preferred one.
  await stopOrphanPostmaster(dataDir, options.onLog);
  const port = await freePort(options.port);
  const initialised = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (initialised) await initialise(dataDir, options);

  const logFile = options.logFile ?? path.join(dataDir, 'server.log');
  const child = await spawnPostmaster(dataDir, port, serverFlags(options), logFile);
  const url = (database: string) =>
    `postgres://${DEV_PG_USER}:${DEV_PG_PASSWORD}@127.0.0.1:${port}/${database}`;
  await Promise.race([acceptsConnections(url('postgres')), exitedEarly(child, logFile)]);

  const pid = child.pid!;
  const watchdog = spawnWatchdog(pid, logFile, {
    stackDir: options.stackDir,
    remove: options.ephemeral ? dataDir : undefined,
  });
  let stopping = false;
  const onExit = () => {
    if (!stopping && isAlive(pid)) process.kill(pid, 'SIGINT');
  };
  // A supervisor or test run that dies of an uncaught error still takes its cluster along.
  process.on('exit', onExit);
  return {
    port,
    dataDir,
    pid,
    watchdogPid: watchdog.pid!,
    initialised,
    url,
    ensureDatabase: (name) => ensureDatabase(url('postgres'), name),
    crashed: new Promise((resolve) => child.once('exit', (code) => stopping || resolve(code))),
    async stop() {
      stopping = true;
      process.off('exit', onExit);
      watchdog.kill();
      await stopPostmaster(pid);
      if (options.ephemeral) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function initialise(dataDir: string, options: StartPostgresOptions): Promise<void> {
  return initialiseCluster(dataDir, {
    user: DEV_PG_USER,
    password: DEV_PG_PASSWORD,
    flags: ['--locale=C', '--encoding=UTF8', ...(options.ephemeral ? ['--no-sync'] : [])],
    onLog: options.onLog,
  });
}

function serverFlags(options: StartPostgresOptions): string[] {
  const durability = options.ephemeral
    ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
    : [];
  return [
    ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    // An error's STATEMENT and DETAIL lines quote the values (MikroORM inlines them: a
    // duplicate registration logged the email and the password hash): keep only the message.
    ...['-c', 'log_min_error_statement=panic', '-c', 'log_error_verbosity=terse'],
    ...['-c', 'log_parameter_max_length_on_error=0', '-c', 'log_parameter_max_length=0'],
    ...durability,
  ];
}

async function acceptsConnections(adminUrl: string): Promise<void> {
  const connects = async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    client.on('error', () => {});
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };
  if (!(await waitUntil(connects, 30_000, 25))) {
    throw new Error('PostgreSQL did not accept connections within 30 s');
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`create database ${pg.escapeIdentifier(name)}`).catch((error) => {
        // Another process created it between our check and our create.
        if ((error as { code?: string }).code !== '42P04') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to walk down to the data
 * folder. A checkout below a 0700 home folder breaks that, so such a data folder moves below the
 * system temp folder instead of failing later with a cryptic initdb error.
 */
export function postgresDataDir(wanted: string): string {
  const absolute = path.resolve(wanted);
  if (userInfo().uid !== 0 || isTraversableByOthers(path.dirname(absolute))) return absolute;
  const digest = createHash('sha256').update(absolute).digest('hex').slice(0, 12);
  return path.join(tmpdir(), `sidecart-pg-${digest}`, path.basename(absolute));
}

/** A postgres left running by a killed stack holds the data folder: stop it first. */
export async function stopOrphanPostmaster(dataDir: string, onLog?: (line: string) => void) {
  const pid = livePostmasterPid(dataDir);
  if (pid === undefined) return;
  onLog?.(`note: stopping PostgreSQL (pid ${pid}) left running by an earlier stack`);
  await stopPostmaster(pid);
}
