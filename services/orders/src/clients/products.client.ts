import {
  AppError,
  batchesInFlight,
  DaprError,
  isUnavailable,
  type BatchCounts,
  type Dapr,
} from '@sidecart/chassis';
import {
  lookupResponse,
  maxBatch,
  productsInternalRoutes,
  reserveBatchResponse,
  reserveResponse,
  type LookupResponse,
  type ReserveRequest,
  type ReserveResponse,
} from '@sidecart/contracts';
import CircuitBreaker from 'opossum';
import type { z } from 'zod';

export interface ProductsClientOptions {
  dapr: Pick<Dapr, 'invoke'>;
  appId: string;
  /** Per call: a slower answer counts as a failure and the caller gets a 503. */
  timeoutMs: number;
  /** How long an open breaker refuses calls before one probe may pass. */
  resetMs: number;
  /** Reserve calls at most in flight; reservations beyond wait and leave as one batch. */
  reserveCallsInFlight: number;
}

/** Products' internal routes through Dapr, each behind its own circuit breaker. */
export interface ProductsClient {
  /** Idempotent by orderId at products, so a retry after a timeout is safe. */
  reserve(request: ReserveRequest): Promise<ReserveResponse>;
  lookup(ids: string[]): Promise<LookupResponse>;
  /** Whether reserve's breaker is open: calls are refused without being made. */
  isRefusing(): boolean;
  /** Throws the 503 a reservation would get while reserve's breaker is open, without a call. */
  refuseWhileOpen(): void;
  breakers: CircuitBreaker[];
  /** Reserve calls made (batches) and the reservations they carried (items): metrics. */
  reserveCalls: BatchCounts;
  shutdown(): void;
}

export function createProductsClient(options: ProductsClientOptions): ProductsClient {
  // Reservations that queue while the replica's calls are out leave as one call (ADR 0016). Each
  // goes through the breaker on its own — its deadline covers any wait for a call slot, and each
  // counts as one call, as before batches — and leaves in a batch beneath it.
  const batched = batchesInFlight({
    send: (batch: readonly ReserveRequest[]) => sendReservations(options, batch),
    inFlight: options.reserveCallsInFlight,
    maxBatch,
  });
  const reserve = guarded(productsInternalRoutes.reserve, options, (request) =>
    batched.load(request as ReserveRequest),
  );
  const lookup = guarded(productsInternalRoutes.lookup, options, (body) =>
    invoke(options, productsInternalRoutes.lookup, body, lookupResponse),
  );
  return {
    reserve: (request) => reserve.run(request),
    lookup: (ids) => lookup.run({ ids }),
    isRefusing: () => reserve.breaker.opened,
    refuseWhileOpen: () => {
      if (reserve.breaker.opened) throw reserve.refusal();
    },
    breakers: [reserve.breaker, lookup.breaker],
    reserveCalls: batched.counts,
    shutdown: () => [reserve, lookup].forEach(({ breaker }) => breaker.shutdown()),
  };
}

/**
 * One reservation on its own route (as before batches existed), several as one batch. The call
 * gives up after `timeoutMs`, so a hung products holds a call slot no longer than the breaker
 * waits for any reservation in it.
 */
async function sendReservations(
  options: ProductsClientOptions,
  batch: readonly ReserveRequest[],
): Promise<ReserveResponse[]> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  if (batch.length === 1) {
    return [
      await invoke(options, productsInternalRoutes.reserve, batch[0], reserveResponse, signal),
    ];
  }
  const { results } = await invoke(
    options,
    productsInternalRoutes.reserveBatch,
    { reservations: batch },
    reserveBatchResponse,
    signal,
  );
  if (results.length !== batch.length || results.some((a, i) => a.orderId !== batch[i]!.orderId)) {
    throw new AppError(502, 'dependency-failed', 'products answered another batch than asked');
  }
  return results;
}

async function invoke<S extends z.ZodType>(
  options: ProductsClientOptions,
  method: string,
  body: unknown,
  answer: S,
  signal?: AbortSignal,
): Promise<z.output<S>> {
  const reply = await options.dapr.invoke(options.appId, method, { body, signal });
  const parsed = answer.safeParse(reply);
  if (!parsed.success) {
    throw new AppError(502, 'dependency-failed', 'products answered outside its contract', {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

function guarded<T>(
  method: string,
  options: ProductsClientOptions,
  action: (body: unknown) => Promise<T>,
) {
  const breaker = new CircuitBreaker(action, {
    name: `products:${method}`,
    timeout: options.timeoutMs,
    resetTimeout: options.resetMs,
    errorThresholdPercentage: 50,
    volumeThreshold: 5,
    // Only an unreachable or failing products opens the breaker; an answer it gave (a 4xx for a
    // request it refused) says products is up.
    errorFilter: (error: unknown) => !isFault(error),
  });
  const retryAfter = Math.max(1, Math.ceil(options.resetMs / 1000));
  return {
    breaker,
    refusal: () =>
      toUnavailable(Object.assign(new Error('open'), { code: 'EOPENBREAKER' }), retryAfter)!,
    run: (body: unknown): Promise<T> =>
      breaker.fire(body).catch((error: unknown) => {
        throw toUnavailable(error, retryAfter) ?? error;
      }),
  };
}

const isFault = (error: unknown) =>
  !(error instanceof DaprError) || error.status >= 500 || isUnavailable(error);

/** Open breaker, timeout, products unreachable: a 503 the client may retry after a while. */
function toUnavailable(error: unknown, retryAfterSeconds: number): AppError | undefined {
  const unavailable = (message: string, seconds: number) =>
    new AppError(503, 'products-unavailable', message, {
      headers: { 'retry-after': String(seconds) },
      cause: error,
    });
  if (isRefusal(error)) {
    return unavailable('Products is not answering: try again shortly', retryAfterSeconds);
  }
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (code === 'ETIMEDOUT' || name === 'TimeoutError' || isUnavailable(error)) {
    return unavailable('Products did not answer in time: try again shortly', 1);
  }
  return undefined;
}

const isRefusal = (error: unknown) => (error as { code?: unknown })?.code === 'EOPENBREAKER';

/** The call was never made: the breaker was open. */
export const isRefusedByBreaker = (error: unknown) =>
  error instanceof AppError && isRefusal(error.cause);
