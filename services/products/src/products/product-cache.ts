import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '@sidecart/chassis';

/** A product as the API shows it, serialised once. */
export interface CachedProduct {
  sellerId: string;
  status: 'draft' | 'active' | 'archived';
  version: number;
  /** The JSON body of GET /:id. */
  body: string;
}

export interface ProductCache {
  /** The product from memory, or from `load` (PostgreSQL) when it is not cached or not trusted. */
  read(
    id: string,
    load: () => Promise<CachedProduct | undefined>,
  ): Promise<CachedProduct | undefined>;
  /** Forgets a product at once (this replica's own writes, before their notification arrives). */
  forget(id: string): void;
  stats(): { hits: number; misses: number; bypasses: number; isLive: boolean };
  close(): Promise<void>;
}

export const productChangesChannel = 'products_changed';

/**
 * An in-process cache of product reads, kept true across replicas by PostgreSQL LISTEN/NOTIFY:
 * a trigger notifies `products_changed` with the id when a product row changes, on commit, and
 * every replica drops that entry (ADR 0011). While the listening connection is down nothing is
 * served from or stored in memory, and on reconnect everything is dropped (notifications may have
 * been missed). A read that raced a change — loaded before the change committed, returned after
 * its notification — is not stored: each change gets a sequence number, and a load stores only if
 * no change of its product (or an unknown one) was seen since the load started.
 */
export function startProductCache(options: {
  databaseUrl: string;
  maxEntries: number;
  logger: Logger;
  retryDelayMs?: number;
}): ProductCache {
  const { logger, maxEntries } = options;
  const entries = new LRUCache<string, CachedProduct>({ max: Math.max(maxEntries, 1) });
  let sequence = 0;
  /** Sequence of the last change of each recently changed product. */
  const changedAt = new LRUCache<string, number>({
    max: Math.max(maxEntries * 4, 1000),
    // A forgotten change could be newer than a load in flight: trust no load older than it.
    dispose: (seq) => void (forgottenUpTo = Math.max(forgottenUpTo, seq)),
  });
  let forgottenUpTo = 0;
  const isUnchangedSince = (id: string, startedAt: number) =>
    (changedAt.get(id) ?? 0) <= startedAt && forgottenUpTo <= startedAt;
  /** Loads in flight, so that a burst of readers of one uncached product makes one query. */
  const loading = new Map<
    string,
    { startedAt: number; product: Promise<CachedProduct | undefined> }
  >();
  let isLive = false;
  let isClosed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const counts = { hits: 0, misses: 0, bypasses: 0 };

  const forget = (id: string) => {
    sequence += 1;
    changedAt.set(id, sequence);
    entries.delete(id);
  };
  const forgetAll = () => {
    sequence += 1;
    forgottenUpTo = sequence;
    entries.clear();
  };

  async function listen(): Promise<void> {
    if (isClosed || maxEntries === 0) return;
    const next = new pg.Client({ connectionString: options.databaseUrl });
    const lost = (error?: Error) => {
      if (client !== next) return;
      client = undefined;
      isLive = false;
      forgetAll();
      next.end().catch(() => {});
      if (isClosed) return;
      logger.warn({ err: error }, 'product cache: lost the change feed; reading through');
      retry = setTimeout(() => void listen(), options.retryDelayMs ?? 1000);
    };
    client = next;
    next.on('notification', (message) => message.payload && forget(message.payload));
    next.on('error', lost);
    next.on('end', () => lost());
    try {
      await next.connect();
      await next.query(`listen ${productChangesChannel}`);
      if (client !== next) return;
      forgetAll();
      isLive = true;
    } catch (error) {
      lost(error as Error);
    }
  }
  void listen();

  return {
    async read(id, load) {
      if (!isLive) {
        counts.bypasses += 1;
        return load();
      }
      const cached = entries.get(id);
      if (cached) {
        counts.hits += 1;
        return cached;
      }
      counts.misses += 1;
      // Readers of a product that is being loaded share that load, unless it changed since the
      // load began: then the load's answer may predate the change, and this reader loads anew.
      const pending = loading.get(id);
      if (pending && isUnchangedSince(id, pending.startedAt)) return pending.product;
      const startedAt = sequence;
      const product = load().then((loaded) => {
        if (loaded && isLive && isUnchangedSince(id, startedAt)) entries.set(id, loaded);
        return loaded;
      });
      const flight = { startedAt, product };
      loading.set(id, flight);
      try {
        return await product;
      } finally {
        if (loading.get(id) === flight) loading.delete(id);
      }
    },
    forget,
    stats: () => ({ ...counts, isLive }),
    async close() {
      isClosed = true;
      clearTimeout(retry);
      const open = client;
      client = undefined;
      isLive = false;
      await open?.end().catch(() => {});
    },
  };
}

/** `products_cache_reads{result=hit|miss|bypass}` on /metrics. */
export function registerCacheMetrics(registry: Registry, cache: ProductCache): void {
  registry.registerMetric(
    new Gauge({
      name: 'products_cache_reads',
      help: 'Product reads since start: from memory (hit), loaded (miss), cache not live (bypass)',
      labelNames: ['result'],
      registers: [],
      collect() {
        const { hits, misses, bypasses } = cache.stats();
        this.set({ result: 'hit' }, hits);
        this.set({ result: 'miss' }, misses);
        this.set({ result: 'bypass' }, bypasses);
      },
    }),
  );
}
