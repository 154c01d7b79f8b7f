import DataLoader from 'dataloader';
import { Counter, type Registry } from 'prom-client';

export interface BatchesInFlightOptions<K, V> {
  /** Sends one batch and answers in its order: an Error in the answers fails that item alone. */
  send: (batch: readonly K[]) => Promise<(V | Error)[]>;
  /** Batches at most out at once; items beyond wait for one to come back. */
  inFlight: number;
  /** At most this many items per batch. */
  maxBatch: number;
}

/** Batches sent and the items they carried, since start: their ratio is the mean batch. */
export interface BatchCounts {
  batches: number;
  items: number;
}

export interface BatchesInFlight<K, V> {
  load(item: K): Promise<V>;
  counts: BatchCounts;
}

/**
 * Items leave at once while fewer than `inFlight` batches are out, and otherwise queue until one
 * comes back, then leave together as one batch: a quiet service waits for nothing, and a busy one
 * pays a round trip (a call, a statement and its commit) once per batch instead of once per item.
 * A failed batch fails each of its items, as their own round trips would have failed.
 */
export function batchesInFlight<K, V>(
  options: BatchesInFlightOptions<K, V>,
): BatchesInFlight<K, V> {
  const counts: BatchCounts = { batches: 0, items: 0 };
  let free = options.inFlight;
  const waiting: (() => void)[] = [];
  const loader = new DataLoader<K, V>(
    async (batch) => {
      counts.batches += 1;
      counts.items += batch.length;
      try {
        return await options.send(batch);
      } finally {
        const next = waiting.shift();
        if (next) next();
        else free += 1;
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatch,
      batchScheduleFn: (dispatch) => {
        if (free === 0) return void waiting.push(dispatch);
        free -= 1;
        // After this tick: the item that opened the batch is in it, and any of the same tick.
        process.nextTick(dispatch);
      },
    },
  );
  return { load: (item) => loader.load(item), counts };
}

export interface BatchMetricNames {
  /** Counter of batches sent, e.g. `orders_reserve_calls_total`. */
  batches: { name: string; help: string };
  /** Counter of the items they carried. */
  items: { name: string; help: string };
}

/** Two counters read from `counts` at scrape time: their ratio is the mean batch. */
export function registerBatchMetrics(
  registry: Registry,
  counts: BatchCounts,
  names: BatchMetricNames,
): void {
  const counter = ({ name, help }: { name: string; help: string }, read: () => number) => {
    let reported = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        this.inc(now - reported);
        reported = now;
      },
    });
  };
  counter(names.batches, () => counts.batches);
  counter(names.items, () => counts.items);
}
