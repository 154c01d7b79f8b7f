/** The runtime side of resiliency: cockatiel policies that behave like daprd's (resiliency/policy.go). */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CircuitState,
  ConstantBackoff,
  ExponentialBackoff,
  TimeoutStrategy,
  circuitBreaker,
  handleAll,
  handleWhen,
  isBrokenCircuitError,
  isTaskCancelledError,
  retry,
  timeout,
  type GeneratorFn,
  type IBackoff,
  type IBackoffFactory,
  type IBreaker,
} from 'cockatiel';
import {
  circuitOpen,
  deadlineExceeded,
  type EndpointPolicy,
  type ExecuteOptions,
} from './types.ts';

export interface RetryDefinition {
  policy: 'constant' | 'exponential';
  durationMs: number;
  maxIntervalMs: number;
  /** -1 = forever. */
  maxRetries: number;
  retriesStatus(status: number): boolean;
}

export interface BreakerDefinition {
  maxRequests: number;
  intervalMs: number;
  timeoutMs: number;
  trips(consecutiveFailures: number): boolean;
}

export interface PolicyDefinition {
  timeoutMs?: number;
  retry?: RetryDefinition;
  breaker?: BreakerDefinition;
}

/** cenkalti/backoff's MaxElapsedTime, which kit/retry keeps for exponential policies. */
const maxElapsedMs = 15 * 60_000;

/** Thrown by an open (or saturated half-open) breaker; daprd never retries these (resiliency/policy.go). */
class CircuitRejection extends Error {}

/** An attempt's value and, when it counts as a failure, its status. */
interface Outcome<T> {
  value: T;
  failedStatus?: number;
  /** A failure past the retry budget: returned as it is. */
  isFinal?: boolean;
}
const isFailure = (outcome: unknown) => (outcome as Outcome<unknown>).failedStatus !== undefined;

const neverAborted = new AbortController().signal;

/** Layered like daprd's runner: retry(circuit breaker(timeout per attempt(attempt))). */
export function createEndpointPolicy(definition: PolicyDefinition): EndpointPolicy {
  const { timeoutMs = 0, retry: retryDefinition, breaker } = definition;
  // Aggressive: daprd returns at the deadline without waiting for the attempt (resiliency/policy.go).
  const perAttempt =
    timeoutMs > 0
      ? timeout(timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false })
      : undefined;
  const breakers = new Map<string, ReturnType<typeof createBreaker>>();
  const retrying = retryDefinition && createRetry(retryDefinition);

  const runAttempt = async <T>(
    attempt: (signal: AbortSignal) => Promise<T>,
    caller: AbortSignal,
  ): Promise<T> => {
    if (!perAttempt) return attempt(caller);
    try {
      // The caller's signal is merged here rather than given to cockatiel, whose timeout would
      // report the caller's abort as a deadline.
      // AbortSignal.any() registers with both signals on every attempt: skipped when the caller
      // has none.
      return await perAttempt.execute(({ signal }) =>
        attempt(caller === neverAborted ? signal : AbortSignal.any([signal, caller])),
      );
    } catch (error) {
      throw isTaskCancelledError(error) ? new Error(deadlineExceeded) : error;
    }
  };

  return {
    isEmpty: !perAttempt && !retryDefinition && !breaker,
    async execute<T>(
      attempt: (signal: AbortSignal) => Promise<T>,
      options: ExecuteOptions<T> = {},
    ) {
      const { failureStatus = () => undefined, circuitKey = '', signal = neverAborted } = options;
      if (breaker && !breakers.has(circuitKey)) breakers.set(circuitKey, createBreaker(breaker));
      const guard = breakers.get(circuitKey);
      const once = async (): Promise<Outcome<T>> => {
        signal.throwIfAborted();
        const run = async () => {
          const value = await runAttempt(attempt, signal);
          return { value, failedStatus: failureStatus(value) };
        };
        return guard ? guard(run) : run();
      };
      const outcome = retrying ? await retrying(once, signal) : await once();
      return outcome.value;
    },
  };
}

/** cenkalti/backoff v4 as kit/retry sets it up: the interval starts at 500 ms (even above the
 * cap), grows ×1.5 up to maxInterval, and each delay is the interval ±50 %. */
const daprBackoff: GeneratorFn<number> = (interval, options) => {
  const current = interval ?? options.initialDelay;
  const next =
    current >= options.maxDelay / options.exponent ? options.maxDelay : current * options.exponent;
  return [current * (0.5 + Math.random()), next];
};

/**
 * A failure the retry policy must let through: the caller gave up, or the exponential budget is
 * spent. Not an Error: it is thrown and caught on every such failure, and needs no stack trace.
 */
class FinalFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * The retry policy of one endpoint, built once (cockatiel's policies, handlers and backoff
 * factories are objects with emitters, too many to build per call): runs `once` until it
 * succeeds, the policy gives up or `signal` aborts. What depends on the execution — the caller's
 * signal, the time budget, the backoff's progress — lives in the execution's closure.
 */
function createRetry(definition: RetryDefinition) {
  const handler = handleWhen(
    (error) => !(error instanceof CircuitRejection) && !(error instanceof FinalFailure),
  ).orWhenResult(
    (outcome) =>
      isFailure(outcome) &&
      !(outcome as Outcome<unknown>).isFinal &&
      definition.retriesStatus((outcome as Outcome<unknown>).failedStatus!),
  );
  const policy = retry(handler, {
    maxAttempts: definition.maxRetries < 0 ? Infinity : definition.maxRetries,
  });
  const delays: IBackoffFactory<unknown> =
    definition.policy === 'constant'
      ? new ConstantBackoff(definition.durationMs)
      : new ExponentialBackoff({
          generator: daprBackoff,
          initialDelay: 500,
          maxDelay: definition.maxIntervalMs,
          exponent: 1.5,
        });
  return async <T>(once: () => Promise<Outcome<T>>, signal: AbortSignal): Promise<Outcome<T>> => {
    // cenkalti stops when the next delay would pass the budget; this stops once it has passed.
    const started = Date.now();
    const inBudget = () => definition.policy === 'constant' || Date.now() - started < maxElapsedMs;
    let backoff: IBackoff<unknown> | undefined;
    try {
      return await policy.execute(async ({ attempt }) => {
        let outcome;
        try {
          // The backoff waits here rather than in cockatiel, whose sleep ignores the signal.
          if (attempt > 0) {
            backoff = backoff ? backoff.next(undefined) : delays.next(undefined);
            await sleep(backoff.duration, undefined, { signal });
          }
          outcome = await once();
        } catch (error) {
          // An abort is never retried: the attempt failed because the caller gave up (daprd's
          // runner stops with its context).
          throw signal.aborted || !inBudget() ? new FinalFailure(error) : error;
        }
        if (isFailure(outcome) && !inBudget()) outcome.isFinal = true;
        return outcome;
      }, signal);
    } catch (error) {
      throw error instanceof FinalFailure ? error.error : error;
    }
  };
}

/** One gobreaker-like breaker: cockatiel's policy, plus what it lacks (interval reset, trip, fail-fast half-open). */
function createBreaker(definition: BreakerDefinition) {
  let windowStart = Date.now();
  // gobreaker clears its counts every `interval` while closed, and whenever it closes again.
  const counts: IBreaker & { state: number } = {
    state: 0,
    success(circuit) {
      if (circuit === CircuitState.HalfOpen || expired()) windowStart = Date.now();
      this.state = 0;
    },
    failure(circuit) {
      if (circuit !== CircuitState.Closed) return true;
      if (expired()) {
        windowStart = Date.now();
        this.state = 0;
      }
      return definition.trips(++this.state);
    },
  };
  const expired = () =>
    definition.intervalMs > 0 && Date.now() - windowStart >= definition.intervalMs;
  const policy = circuitBreaker(handleAll.orWhenResult(isFailure), {
    breaker: counts,
    halfOpenAfter: definition.timeoutMs,
    halfOpenSampling: { calls: definition.maxRequests, threshold: 0 },
  });
  let halfOpenCalls = 0;
  policy.onHalfOpen(() => (halfOpenCalls = 0));

  return async <T>(run: () => Promise<T>): Promise<T> => {
    // gobreaker rejects what cockatiel would queue: more than maxRequests calls while half-open.
    if (policy.state === CircuitState.HalfOpen && halfOpenCalls >= definition.maxRequests) {
      throw new CircuitRejection('too many requests');
    }
    const running = policy.execute(run);
    if (policy.state === CircuitState.HalfOpen) halfOpenCalls += 1;
    try {
      return await running;
    } catch (error) {
      throw isBrokenCircuitError(error) ? new CircuitRejection(circuitOpen) : error;
    }
  };
}
