import { AppError, DaprError, isUnavailable, type Dapr } from '@sidecart/chassis';
import {
  lookupResponse,
  productsInternalRoutes,
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
  shutdown(): void;
}

export function createProductsClient(options: ProductsClientOptions): ProductsClient {
  const call = <S extends z.ZodType>(method: string, answer: S) =>
    guarded(method, options, async (body: unknown) => {
      const reply = await options.dapr.invoke(options.appId, method, { body });
      const parsed = answer.safeParse(reply);
      if (!parsed.success) {
        throw new AppError(502, 'dependency-failed', 'products answered outside its contract', {
          cause: parsed.error,
        });
      }
      return parsed.data as z.output<S>;
    });
  const reserve = call(productsInternalRoutes.reserve, reserveResponse);
  const lookup = call(productsInternalRoutes.lookup, lookupResponse);
  return {
    reserve: (request) => reserve.run(request),
    lookup: (ids) => lookup.run({ ids }),
    isRefusing: () => reserve.breaker.opened,
    refuseWhileOpen: () => {
      if (reserve.breaker.opened) throw reserve.refusal();
    },
    breakers: [reserve.breaker, lookup.breaker],
    shutdown: () => [reserve, lookup].forEach(({ breaker }) => breaker.shutdown()),
  };
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
  if ((error as { code?: unknown }).code === 'ETIMEDOUT' || isUnavailable(error)) {
    return unavailable('Products did not answer in time: try again shortly', 1);
  }
  return undefined;
}

const isRefusal = (error: unknown) => (error as { code?: unknown })?.code === 'EOPENBREAKER';

/** The call was never made: the breaker was open. */
export const isRefusedByBreaker = (error: unknown) =>
  error instanceof AppError && isRefusal(error.cause);
