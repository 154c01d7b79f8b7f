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
  read(id: string, load: Load): Promise<CachedProduct | undefined>;
  /** Forgets a product at once (this replica's own writes, before their notification arrives). */
  forget(id: string): void;
  /**
   * Someone changed the product: the entry may still be served for `maxStaleMs` while one
   * reload replaces it (how notifications and reservations invalidate).
   */
  changed(id: string): void;
  stats(): { hits: number; staleHits: number; misses: number; bypasses: number; isLive: boolean };
  close(): Promise<void>;
}

/** Reads a product from PostgreSQL; one function for every read, not a closure per request. */
type Load = (id: string) => Promise<CachedProduct | undefined>;

export const productChangesChannel = 'products_changed';

interface Entry {
  product: CachedProduct;
  /** When the load that brought it began: it shows the product as of then, or later. */
  loadedAt: number;
  /** When the first change it does not show was seen; unset while it is current. */
  changedAt?: number;
  /** When a reader last started a reload of it because it had changed. */
  reloadedAt?: number;
}

/**
 * An in-process cache of product reads, kept true across replicas by PostgreSQL LISTEN/NOTIFY: a
 * trigger notifies `products_changed` with the id when a product's catalog facts change, on
 * commit, and every replica marks that entry changed (ADR 0011). Stock moves are not announced (a
 * flash sale would notify every replica of every reservation): an entry loaded more than
 * `refreshAfterMs` ago counts as changed since then. A changed entry is still served for at most
 * `maxStaleMs` after the change, while one reload replaces it: a product reserved a thousand times
 * a second is then read from PostgreSQL a few times a second, not once per read; a catalog change
 * is visible within `maxStaleMs` plus a query, a stock move within `refreshAfterMs` + `maxStaleMs`
 * plus a query. While the listening connection is down nothing is served from or stored in memory,
 * and on reconnect everything is dropped (notifications may have been missed). A load that raced a
 * change — loaded before the change committed, returned after its notification — is stored as
 * changed since the load began: each change gets a sequence number, compared with the one a load
 * started at.
 */
export function startProductCache(options: {
  databaseUrl: string;
  maxEntries: number;
  logger: Logger;
  retryDelayMs?: number;
  /** How long a changed entry may still be served while it is reloaded (the ADR allows 1 s). */
  maxStaleMs?: number;
  /** After how long an entry counts as changed, for the stock moves nobody announces. */
  refreshAfterMs?: number;
  now?: () => number;
}): ProductCache {
  const { logger, maxEntries, maxStaleMs = 250, refreshAfterMs = 500, now = Date.now } = options;
  const entries = new LRUCache<string, Entry>({ max: Math.max(maxEntries, 1) });
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
  const counts = { hits: 0, staleHits: 0, misses: 0, bypasses: 0 };

  const forget = (id: string) => {
    sequence += 1;
    changedAt.set(id, sequence);
    entries.delete(id);
  };
  const changed = (id: string) => {
    sequence += 1;
    changedAt.set(id, sequence);
    const entry = entries.peek(id);
    if (entry) entry.changedAt ??= now();
  };
  const forgetAll = () => {
    sequence += 1;
    forgottenUpTo = sequence;
    entries.clear();
  };

  /** Loads a product and stores it: current, or changed since the load began. */
  async function loadShared(id: string, load: Load) {
    const startedAt = sequence;
    const startedTime = now();
    const product = load(id).then((loaded) => {
      if (!isLive) return loaded;
      const stored = entries.peek(id);
      const isNewer = !stored || (loaded !== undefined && stored.product.version <= loaded.version);
      if (!loaded) entries.delete(id);
      else if (isUnchangedSince(id, startedAt)) {
        if (isNewer) {
          entries.set(id, {
            product: loaded,
            loadedAt: startedTime,
            reloadedAt: stored?.reloadedAt,
          });
        }
      } else if (stored?.changedAt !== undefined && isNewer) {
        // A load that raced a change still replaces a changed entry, as changed when it began.
        // It never replaces a current entry, nor stores after a `forget` (read-your-writes).
        entries.set(id, {
          product: loaded,
          loadedAt: startedTime,
          changedAt: startedTime,
          reloadedAt: stored.reloadedAt,
        });
      }
      return loaded;
    });
    const flight = { startedAt, product };
    loading.set(id, flight);
    try {
      return await product;
    } finally {
      if (loading.get(id) === flight) loading.delete(id);
    }
  }

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
    next.on('notification', (message) => message.payload && changed(message.payload));
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
        return load(id);
      }
      const entry = entries.get(id);
      if (entry && entry.changedAt === undefined && now() - entry.loadedAt >= refreshAfterMs) {
        // Its stock may have moved since: changed as of the end of its window, so an entry nobody
        // read for longer than both windows is not served stale, and its reader waits for the load.
        entry.changedAt = entry.loadedAt + refreshAfterMs;
      }
      if (entry && entry.changedAt === undefined) {
        counts.hits += 1;
        return entry.product;
      }
      if (entry && now() - entry.changedAt! < maxStaleMs) {
        counts.staleHits += 1;
        // One reload at a time, and under a stream of changes one per half window at most.
        const sinceReload = now() - (entry.reloadedAt ?? -Infinity);
        if (!loading.has(id) && sinceReload >= maxStaleMs / 2) {
          entry.reloadedAt = now();
          loadShared(id, load).catch(() => {}); // the next reader tries again
        }
        return entry.product;
      }
      counts.misses += 1;
      // Readers of a product that is being loaded share that load, unless it changed since the
      // load began: then the load's answer may predate the change, and this reader loads anew.
      const pending = loading.get(id);
      if (pending && isUnchangedSince(id, pending.startedAt)) return pending.product;
      return loadShared(id, load);
    },
    changed,
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

/** `products_cache_reads{result=hit|stale|miss|bypass}` on /metrics. */
export function registerCacheMetrics(registry: Registry, cache: ProductCache): void {
  registry.registerMetric(
    new Gauge({
      name: 'products_cache_reads',
      help:
        'Product reads since start: from memory (hit), from memory while reloading a changed ' +
        'product (stale), loaded (miss), cache not live (bypass)',
      labelNames: ['result'],
      registers: [],
      collect() {
        const { hits, staleHits, misses, bypasses } = cache.stats();
        this.set({ result: 'hit' }, hits);
        this.set({ result: 'stale' }, staleHits);
        this.set({ result: 'miss' }, misses);
        this.set({ result: 'bypass' }, bypasses);
      },
    }),
  );
}
