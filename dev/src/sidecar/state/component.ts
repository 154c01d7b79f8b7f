import type pg from 'pg';
import { parseDuration } from '../durations.ts';
import { metadataValue, type ComponentResource } from '../types.ts';

/** A state.postgresql component's metadata (contrib:state/postgresql/v1|v2/metadata.yaml). */
export interface PostgresComponentConfig {
  version: 'v1' | 'v2';
  pool: pg.PoolConfig;
  /** v1 `tableName` (default `state`); v2 `<tablePrefix>state`. */
  table: string;
  metadataTable: string;
  /** `cleanupInterval` in ms; undefined = no garbage collection ("0" or negative). */
  cleanupIntervalMs?: number;
  isActorStateStore: boolean;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

export function readPostgresComponent(component: ComponentResource): PostgresComponentConfig {
  const value = (name: string, alias?: string) =>
    metadataValue(component, name) ?? (alias ? metadataValue(component, alias) : undefined);
  const where = `state store ${component.name} (${component.file})`;
  if (component.version !== 'v1' && component.version !== 'v2') {
    throw new Error(`${where}: state.postgresql has no version ${component.version}`);
  }
  const connectionString = value('connectionString');
  if (!connectionString) throw new Error(`${where}: missing connection string`);
  const table =
    component.version === 'v1'
      ? value('tableName') || 'state'
      : `${value('tablePrefix') ?? ''}state`;
  const metadataTable = value('metadataTableName') || 'dapr_metadata';
  for (const name of [table, metadataTable]) {
    // daprd splices table names into its SQL unquoted; refuse anything that is not a plain name.
    if (!identifier.test(name)) throw new Error(`${where}: invalid table name '${name}'`);
  }
  const timeoutMs = readDuration(value('timeout', 'timeoutInSeconds') || '20s', where);
  if (timeoutMs < 1000) {
    throw new Error(`${where}: invalid value for 'timeout': must be greater than 1s`);
  }
  const cleanup = value('cleanupInterval', 'cleanupIntervalInSeconds') || '1h';
  const cleanupMs = readDuration(cleanup, where);
  const maxConns = Number(value('maxConns') ?? '');
  return {
    version: component.version,
    pool: {
      ...parseConnectionString(connectionString),
      ...(Number.isInteger(maxConns) && maxConns > 0 ? { max: maxConns } : {}),
      connectionTimeoutMillis: timeoutMs,
    },
    table,
    metadataTable,
    cleanupIntervalMs: cleanupMs > 0 ? cleanupMs : undefined,
    isActorStateStore: /^(1|t|true|y|yes|on)$/i.test(value('actorStateStore') ?? ''),
  };
}

/** dapr/kit's metadata decoder: a Go duration, or else whole seconds (not ms). In ms. */
function readDuration(text: string, where: string): number {
  if (/^[+-]?\d+$/.test(text.trim())) return Number(text) * 1000;
  try {
    return parseDuration(text);
  } catch {
    throw new Error(`${where}: invalid duration '${text}'`);
  }
}

/**
 * pgx accepts a URL or libpq `key=value` pairs (what Dapr's docs show); node-postgres only URLs.
 */
export function parseConnectionString(text: string): pg.PoolConfig {
  if (/^postgres(ql)?:\/\//.test(text)) return { connectionString: text };
  const pairs: Record<string, string> = {};
  for (const [, key, quoted, plain] of text.matchAll(
    /(\w+)\s*=\s*(?:'((?:\\.|[^'\\])*)'|(\S*))/g,
  )) {
    pairs[key!] = quoted === undefined ? plain! : quoted.replace(/\\(.)/g, '$1');
  }
  const sslmode = pairs.sslmode ?? 'disable';
  return {
    host: pairs.host,
    port: pairs.port ? Number(pairs.port) : undefined,
    user: pairs.user,
    password: pairs.password,
    database: pairs.dbname ?? pairs.database,
    ssl: ['require', 'verify-ca', 'verify-full'].includes(sslmode)
      ? { rejectUnauthorized: sslmode !== 'require' }
      : undefined,
    application_name: pairs.application_name,
  };
}
