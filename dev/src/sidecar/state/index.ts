import pg from 'pg';
import type { Route } from '../api.ts';
import type { BuildingBlock, ComponentResource, SidecarContext } from '../types.ts';
import type { Logger } from '@sidecart/chassis/logger';
import { readPostgresComponent, type PostgresComponentConfig } from './component.ts';
import { dialectFor } from './dialects.ts';
import { causeOf } from './errors.ts';
import { keyPrefixer } from './keys.ts';
import { migrateStateTables } from './migrations.ts';
import { PostgresStateStore } from './postgres-store.ts';
import { getBulkState, getState } from './read.routes.ts';
import { withStore, type StateStores, type StoreEntry } from './store-entry.ts';
import { deleteState, executeTransaction, saveState } from './write.routes.ts';

/** setInterval's ceiling (about 24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

interface OpenStore {
  entry: StoreEntry;
  capabilities: string[];
  close(): Promise<void>;
}

/**
 * The state API (docs/dapr-behaviour.md §3) over every `state.*` component: state.postgresql v1 or v2,
 * each on its own pool to the database its connectionString names.
 */
export async function createStateApi(context: SidecarContext): Promise<BuildingBlock> {
  const opened: OpenStore[] = [];
  try {
    for (const component of context.resources.components) {
      if (component.type.startsWith('state.')) opened.push(await openStore(component, context));
    }
  } catch (error) {
    await Promise.allSettled(opened.map((store) => store.close()));
    throw error;
  }
  const stores: StateStores = {
    appId: context.appId,
    byName: new Map(opened.map((store) => [store.entry.name, store.entry])),
  };
  return {
    routes: stateRoutes(stores),
    metadata: () => ({
      components: opened.map(({ entry: { component }, capabilities }) => ({
        name: component.name,
        type: component.type,
        version: component.version,
        capabilities,
      })),
    }),
    close: async () => {
      await Promise.allSettled(opened.map((store) => store.close()));
    },
  };
}

/** Listed so that `GET …/bulk` stays a get of key "bulk" (only POST|PUT reach bulk). */
function stateRoutes(stores: StateStores): Route[] {
  const route = (methods: string[], pattern: string, handler: Parameters<typeof withStore>[1]) => ({
    methods,
    pattern: `/v1.0/state/{store}${pattern}`,
    handler: withStore(stores, handler),
    // The store is looked up first (a missing one is daprd's 500), then the body decoded.
    readsTruncatedBody: true,
  });
  return [
    route(['GET'], '/{key}', getState),
    route(['POST', 'PUT'], '', saveState),
    route(['DELETE'], '/{key}', deleteState),
    route(['POST', 'PUT'], '/bulk', getBulkState),
    route(['POST', 'PUT'], '/transaction', executeTransaction),
  ];
}

async function openStore(
  component: ComponentResource,
  context: SidecarContext,
): Promise<OpenStore> {
  if (component.type !== 'state.postgresql') {
    throw new Error(
      `state store ${component.name} (${component.file}): the dev sidecar has no ${component.type}`,
    );
  }
  const config = readPostgresComponent(component);
  const prefixKey = keyPrefixer(component, context.appId, context.namespace);
  const log = context.log.child({ component: component.name });
  const pool = new pg.Pool(config.pool);
  pool.on('error', (error) => log.warn({ err: error }, 'idle state store connection failed'));
  const dialect = dialectFor(config);
  try {
    await migrateStateTables(pool, dialect, config.metadataTable);
  } catch (error) {
    await pool.end();
    const reason = `failed to create its tables: ${causeOf(error)}`;
    throw new Error(`state store ${component.name}: ${reason}`, { cause: error });
  }
  const store = new PostgresStateStore(pool, dialect);
  const timer = scheduleCleanup(store, config, log);
  const capabilities = config.isActorStateStore
    ? [...dialect.capabilities, 'ACTOR']
    : dialect.capabilities;
  return {
    entry: {
      name: component.name,
      component,
      store,
      prefixKey,
      policy: context.resiliency.componentOutbound(component.name, 'state'),
    },
    capabilities,
    close: async () => {
      clearInterval(timer);
      await pool.end();
    },
  };
}

/** daprd's expired-row garbage collector; none when cleanupInterval is 0 or negative. */
function scheduleCleanup(
  store: PostgresStateStore,
  config: PostgresComponentConfig,
  log: Logger,
): NodeJS.Timeout | undefined {
  const interval = config.cleanupIntervalMs;
  if (interval === undefined) return undefined;
  const cleanUp = () =>
    store.cleanupExpired(config.metadataTable, interval).then(
      (removed) => removed > 0 && log.debug({ removed }, 'removed expired state'),
      (error: unknown) => log.warn({ err: error }, 'expired state cleanup failed'),
    );
  return setInterval(cleanUp, Math.min(interval, maxTimerMs)).unref();
}
