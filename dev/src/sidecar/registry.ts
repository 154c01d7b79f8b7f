import type { Logger } from '@sidecart/chassis/logger';
import type pg from 'pg';

/** One running sidecar of an app: where other sidecars reach it (daprd's port 50002). */
export interface Instance {
  instanceId: string;
  host: string;
  port: number;
}

export interface RegistryOptions {
  pool: pg.Pool;
  log: Logger;
  appId: string;
  namespace: string;
  instanceId: string;
  host: string;
  port: number;
}

/**
 * Name resolution across dev sidecar processes, through the dev stack's database: each sidecar
 * upserts its row every second, and rows fresher than `liveMs` are the app's live instances.
 */
export interface Registry {
  /** Announces this sidecar (once its app is reachable) and keeps the row fresh. */
  register(): Promise<void>;
  deregister(): Promise<void>;
  /** A live instance picked at random per call, as the k8s resolver does; undefined if none. */
  pick(appId: string, namespace: string): Promise<Instance | undefined>;
  /** Forgets the cached list after a connection failure, so the next pick asks again. */
  evict(appId: string, namespace: string): void;
}

const table = 'sidecar_instances';
const heartbeatMs = 1000;
const liveMs = 3000;
// docs/dapr-behaviour.md §2.4: k8s caches ≤ 20 s; local replicas restart within seconds, hence 1 s.
const cacheMs = 1000;

export async function createRegistry(options: RegistryOptions): Promise<Registry> {
  const { pool, log, appId, namespace, instanceId, host, port } = options;
  await createTable(pool);
  const cache = new Map<string, { instances: Instance[]; at: number }>();
  const loading = new Map<string, Promise<Instance[]>>();
  let heartbeat: NodeJS.Timeout | undefined;
  let beating: Promise<unknown> = Promise.resolve();

  const upsert = () =>
    pool.query(
      `insert into ${table} (namespace, app_id, instance_id, host, internal_port, updated_at)
       values ($1, $2, $3, $4, $5, now())
       on conflict (namespace, app_id, instance_id)
       do update set host = excluded.host, internal_port = excluded.internal_port, updated_at = now()`,
      [namespace, appId, instanceId, host, port],
    );

  const query = async (key: string, targetId: string, targetNamespace: string) => {
    const { rows } = await pool.query<{ instance_id: string; host: string; internal_port: number }>(
      `select instance_id, host, internal_port from ${table}
       where namespace = $1 and app_id = $2 and updated_at > now() - make_interval(secs => $3)`,
      [targetNamespace, targetId, liveMs / 1000],
    );
    const instances = rows.map((row) => ({
      instanceId: row.instance_id,
      host: row.host,
      port: row.internal_port,
    }));
    cache.set(key, { instances, at: performance.now() });
    return instances;
  };

  // A stale list (younger than liveMs) is served while a refresh runs in the background, so a
  // busy caller never waits on the database; an idle one asks again.
  const instancesOf = (targetId: string, targetNamespace: string): Promise<Instance[]> => {
    const key = `${targetNamespace}/${targetId}`;
    const cached = cache.get(key);
    if (cached && performance.now() - cached.at <= cacheMs) {
      return Promise.resolve(cached.instances);
    }
    let pending = loading.get(key);
    if (!pending) {
      pending = query(key, targetId, targetNamespace).finally(() => loading.delete(key));
      loading.set(key, pending);
    }
    // Older than a heartbeat's lifetime, it may name ports that are gone or reused: wait.
    if (!cached || performance.now() - cached.at > liveMs) return pending;
    pending.catch((error: unknown) => log.warn({ err: error }, 'name resolution refresh failed'));
    return Promise.resolve(cached.instances);
  };

  return {
    async register() {
      await upsert();
      heartbeat ??= setInterval(() => {
        beating = upsert().catch((error: unknown) =>
          log.warn({ err: error }, 'name registry heartbeat failed'),
        );
      }, heartbeatMs).unref();
    },
    async deregister() {
      clearInterval(heartbeat);
      await beating;
      await pool.query(
        `delete from ${table}
         where namespace = $1 and app_id = $2 and instance_id = $3 and internal_port = $4`,
        [namespace, appId, instanceId, port],
      );
    },
    async pick(targetId, targetNamespace) {
      const instances = await instancesOf(targetId, targetNamespace);
      return instances[Math.floor(Math.random() * instances.length)];
    },
    evict: (targetId, targetNamespace) => void cache.delete(`${targetNamespace}/${targetId}`),
  };
}

// Concurrent sidecars start together: without the lock two `create table if not exists` can race.
async function createTable(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`select pg_advisory_xact_lock(hashtext('${table}'))`);
    await client.query(
      `create table if not exists ${table} (
         namespace text not null,
         app_id text not null,
         instance_id text not null,
         host text not null,
         internal_port integer not null,
         updated_at timestamptz not null,
         primary key (namespace, app_id, instance_id))`,
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}
