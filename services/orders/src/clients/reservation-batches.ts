import DataLoader from 'dataloader';
import type { ReserveRequest, ReserveResponse } from '@sidecart/contracts';

export interface ReservationBatchesOptions {
  /** Sends one batch and answers in its order (products' `reserveBatch`, or `reserve` for one). */
  send: (batch: readonly ReserveRequest[]) => Promise<ReserveResponse[]>;
  /** Calls to products at most in flight from this replica; reservations beyond wait for one. */
  callsInFlight: number;
  /** At most this many reservations per call (the contract's `maxBatch`). */
  maxBatch: number;
}

/** Calls sent and the reservations they carried, since start: their ratio is the mean batch. */
export interface BatchCounts {
  calls: number;
  reservations: number;
}

/**
 * Reservations leave at once while fewer than `callsInFlight` calls are out, and otherwise queue
 * until one comes back, then leave together as one call: a quiet shop's checkout waits for nothing,
 * and a busy one pays the hops through both sidecars once per batch instead of once per order
 * (ADR 0016). Products decides every reservation of a batch on its own, so batching changes no
 * outcome; a failed call fails each of its reservations, as their own calls would have failed.
 */
export function reservationBatches(options: ReservationBatchesOptions) {
  const counts: BatchCounts = { calls: 0, reservations: 0 };
  let free = options.callsInFlight;
  const waiting: (() => void)[] = [];
  const loader = new DataLoader<ReserveRequest, ReserveResponse>(
    async (batch) => {
      counts.calls += 1;
      counts.reservations += batch.length;
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
        // After this tick: the request that opened the batch is in it, and any of the same tick.
        process.nextTick(dispatch);
      },
    },
  );
  return {
    reserve: (request: ReserveRequest): Promise<ReserveResponse> => loader.load(request),
    counts,
  };
}
