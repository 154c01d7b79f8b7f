/** The runtime side of resiliency: cockatiel policies that behave like daprd's (resiliency/policy.go). */
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
}
const isFailure = (outcome: unknown) => (outcome as Outcome<unknown>).failedStatus !== undefined;

/** Layered like daprd's runner: retry(circuit breaker(timeout per attempt(attempt))). */
export function createEndpointPolicy(definition: PolicyDefinition): EndpointPolicy {
  const { timeoutMs = 0, retry: retryDefinition, breaker } = definition;
  // Aggressive: daprd returns at the deadline without waiting for the attempt (resiliency/policy.go).
  const perAttempt =
    timeoutMs > 0
      ? timeout(timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false })
      : undefined;
  const breakers = new Map<string, ReturnType<typeof createBreaker>>();

  const runAttempt = async <T>(attempt: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    if (!perAttempt) return attempt(new AbortController().signal);
    try {
      return await perAttempt.execute(({ signal }) => attempt(signal));
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
      const { failureStatus = () => undefined, circuitKey = '' } = options;
      if (breaker && !breakers.has(circuitKey)) breakers.set(circuitKey, createBreaker(breaker));
      const guard = breakers.get(circuitKey);
      const once = async (): Promise<Outcome<T>> => {
        const run = async () => {
          const value = await runAttempt(attempt);
          return { value, failedStatus: failureStatus(value) };
        };
        return guard ? guard(run) : run();
      };
      const outcome = retryDefinition
        ? await createRetry(retryDefinition).execute(once)
        : await once();
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

function createRetry(definition: RetryDefinition) {
  // cenkalti stops when the next delay would pass the budget; this stops once it has passed.
  const started = Date.now();
  const inBudget = () => definition.policy === 'constant' || Date.now() - started < maxElapsedMs;
  const handler = handleWhen(
    (error) => !(error instanceof CircuitRejection) && inBudget(),
  ).orWhenResult(
    (outcome) =>
      isFailure(outcome) &&
      definition.retriesStatus((outcome as Outcome<unknown>).failedStatus!) &&
      inBudget(),
  );
  return retry(handler, {
    maxAttempts: definition.maxRetries < 0 ? Infinity : definition.maxRetries,
    backoff:
      definition.policy === 'constant'
        ? new ConstantBackoff(definition.durationMs)
        : new ExponentialBackoff({
            generator: daprBackoff,
            initialDelay: 500,
            maxDelay: definition.maxIntervalMs,
            exponent: 1.5,
          }),
  });
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
