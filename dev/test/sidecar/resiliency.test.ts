import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from '@jest/globals';
import { waitUntil } from '../../src/stack/processes.ts';
import {
  builtInServiceRetries,
  createResiliency,
  parseDuration,
} from '../../src/sidecar/resiliency.ts';
import { ResourceError } from '../../src/sidecar/resources.ts';
import type { EndpointPolicy, ResiliencySpec } from '../../src/sidecar/types.ts';

// Resiliency as daprd applies it (docs/dapr-behaviour.md §2.5, §2.6). Durations are a few ms; the only waits
// are the policies' own (a breaker's open time, an interval).

function spec(
  policies: Partial<ResiliencySpec['policies']>,
  targets: Partial<ResiliencySpec['targets']> = {},
  name = 'test',
): ResiliencySpec {
  return {
    name,
    policies: { timeouts: {}, retries: {}, circuitBreakers: {}, ...policies },
    targets: { apps: {}, components: {}, ...targets },
  };
}

/** An attempt that counts its calls and throws `boom`. */
function failing() {
  const attempt = Object.assign(
    async () => {
      attempt.calls += 1;
      throw new Error('boom');
    },
    { calls: 0 },
  );
  return attempt;
}

/** An attempt that counts its calls and answers the given statuses in turn (the last one repeats). */
function answering(...statuses: number[]) {
  const attempt = Object.assign(
    async () => statuses[Math.min(attempt.calls++, statuses.length - 1)]!,
    { calls: 0 },
  );
  return attempt;
}

const failureStatus = (status: number) => (status < 200 || status > 399 ? status : undefined);

const appPolicy = (policies: Partial<ResiliencySpec['policies']>, names: Record<string, string>) =>
  createResiliency([spec(policies, { apps: { target: names } })], 'caller').app('target');

describe('retries', () => {
  test('a constant policy retries a throwing attempt maxRetries times, then rethrows its error', async () => {
    const policy = appPolicy(
      { retries: { r: { duration: '1ms', maxRetries: 3 } } },
      { retry: 'r' },
    );
    const attempt = failing();

    await expect(policy.execute(attempt)).rejects.toThrow('boom');

    expect(attempt.calls).toBe(4);
  });

  test('maxRetries 0 means one attempt', async () => {
    const policy = appPolicy(
      { retries: { r: { duration: '1ms', maxRetries: 0 } } },
      { retry: 'r' },
    );
    const attempt = failing();

    await expect(policy.execute(attempt)).rejects.toThrow('boom');

    expect(attempt.calls).toBe(1);
  });

  test('a failing result is retried, and after the last attempt it is returned, not thrown', async () => {
    const policy = appPolicy(
      { retries: { r: { duration: '1ms', maxRetries: 2 } } },
      { retry: 'r' },
    );
    const attempt = answering(500, 404, 409);

    const result = await policy.execute(attempt, { failureStatus });

    expect(result).toBe(409);
    expect(attempt.calls).toBe(3);
  });

  test('stops retrying at the first success', async () => {
    const policy = appPolicy({ retries: { r: { duration: '1ms' } } }, { retry: 'r' });
    const attempt = answering(503, 503, 201);

    const result = await policy.execute(attempt, { failureStatus });

    expect(result).toBe(201);
    expect(attempt.calls).toBe(3);
  });

  test('matching.httpStatusCodes retries only the listed statuses; thrown errors always', async () => {
    const retries = {
      r: { duration: '1ms', maxRetries: 2, matching: { httpStatusCodes: '429,502-503' } },
    };
    const policy = appPolicy({ retries }, { retry: 'r' });
    const notListed = answering(500);
    const listed = answering(502, 429, 503);
    const thrown = failing();

    expect(await policy.execute(notListed, { failureStatus })).toBe(500);
    expect(await policy.execute(listed, { failureStatus })).toBe(503);
    await expect(policy.execute(thrown, { failureStatus })).rejects.toThrow('boom');

    expect([notListed.calls, listed.calls, thrown.calls]).toEqual([1, 3, 3]);
  });

  test('exponential: the first delay is 500 ms ±50 %, later ones are capped at maxInterval ±50 %', async () => {
    const retries = { r: { policy: 'exponential' as const, maxInterval: '10ms', maxRetries: 4 } };
    const policy = appPolicy({ retries }, { retry: 'r' });
    const times: number[] = [];

    await expect(
      policy.execute(async () => {
        times.push(performance.now());
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    const delays = times.slice(1).map((time, index) => time - times[index]!);
    expect(delays).toHaveLength(4);
    expect(delays[0]).toBeGreaterThanOrEqual(249);
    expect(delays[0]).toBeLessThan(800);
    for (const delay of delays.slice(1)) {
      expect(delay).toBeGreaterThanOrEqual(4);
      expect(delay).toBeLessThan(60);
    }
  });
});

describe('timeouts', () => {
  test('each attempt gets its own deadline: its signal aborts and it fails with context deadline exceeded', async () => {
    const policy = appPolicy(
      { timeouts: { t: '20ms' }, retries: { r: { duration: '1ms', maxRetries: 2 } } },
      { timeout: 't', retry: 'r' },
    );
    const signals: AbortSignal[] = [];

    const outcome = policy.execute(
      (signal) =>
        new Promise<never>(() => {
          signals.push(signal);
        }),
    );

    await expect(outcome).rejects.toThrow(/^context deadline exceeded$/);
    expect(signals).toHaveLength(3);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  test('an attempt that finishes in time is not aborted afterwards', async () => {
    const policy = appPolicy({ timeouts: { t: '1s' } }, { timeout: 't' });
    let seen: AbortSignal | undefined;

    const result = await policy.execute(async (signal) => {
      seen = signal;
      return 'done';
    });

    expect(result).toBe('done');
    expect(seen!.aborted).toBe(false);
  });
});

describe("the caller's signal", () => {
  const forever = { r: { duration: '1h', maxRetries: -1 } };

  test('aborting it during a backoff wait ends the execution at once, without another attempt', async () => {
    const policy = appPolicy({ retries: forever }, { retry: 'r' });
    const caller = new AbortController();
    const attempt = failing();

    const outcome = policy.execute(attempt, { signal: caller.signal });
    expect(await waitUntil(() => attempt.calls === 1, 2000, 5)).toBe(true);
    // The failure is handled in microtasks: after one turn of the event loop the policy waits.
    await new Promise((resolve) => setImmediate(resolve));
    caller.abort();

    await expect(outcome).rejects.toMatchObject({ name: 'AbortError' });
    expect(attempt.calls).toBe(1);
  });

  test('it aborts the attempt in flight, whose failure is not retried', async () => {
    const policy = appPolicy(
      { timeouts: { t: '1h' }, retries: { r: { duration: '1ms', maxRetries: -1 } } },
      { timeout: 't', retry: 'r' },
    );
    const caller = new AbortController();
    const signals: AbortSignal[] = [];

    const outcome = policy.execute(
      (signal) =>
        new Promise<never>((_, reject) => {
          signals.push(signal);
          signal.addEventListener('abort', () => reject(new Error('attempt aborted')));
        }),
      { signal: caller.signal },
    );
    expect(await waitUntil(() => signals.length === 1, 2000, 5)).toBe(true);
    caller.abort();

    await expect(outcome).rejects.toThrow(/^attempt aborted$/);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });

  test('already aborted: no attempt at all', async () => {
    const policy = appPolicy({ retries: forever }, { retry: 'r' });
    const attempt = failing();

    await expect(policy.execute(attempt, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(attempt.calls).toBe(0);
  });
});

describe('circuit breakers', () => {
  const breakerPolicy = (breaker: Record<string, unknown>) =>
    appPolicy({ circuitBreakers: { cb: breaker } }, { circuitBreaker: 'cb' });

  test('consecutiveFailures > 2 opens on the third failure and then fails fast', async () => {
    const policy = breakerPolicy({ trip: 'consecutiveFailures > 2', timeout: '10s' });
    const attempt = failing();

    for (let i = 0; i < 3; i++) await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow(/^circuit breaker is open$/);

    expect(attempt.calls).toBe(3);
  });

  test('consecutiveFailures >= 2 opens on the second failure; a success resets the count', async () => {
    const policy = breakerPolicy({ trip: 'consecutiveFailures >= 2', timeout: '10s' });
    const attempt = failing();

    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await policy.execute(async () => 'ok');
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow('circuit breaker is open');

    expect(attempt.calls).toBe(3);
  });

  test('failing results count as failures, and breakers are kept per circuit key', async () => {
    const policy = breakerPolicy({ trip: 'consecutiveFailures > 1', timeout: '10s' });
    const attempt = answering(500);

    await policy.execute(attempt, { failureStatus, circuitKey: 'a' });
    await policy.execute(attempt, { failureStatus, circuitKey: 'a' });
    const open = policy.execute(attempt, { failureStatus, circuitKey: 'a' });
    const other = await policy.execute(answering(200), { failureStatus, circuitKey: 'b' });

    await expect(open).rejects.toThrow('circuit breaker is open');
    expect(other).toBe(200);
    expect(attempt.calls).toBe(2);
  });

  test('after its timeout it lets one trial through: a success closes it, a failure reopens it', async () => {
    const policy = breakerPolicy({ trip: 'consecutiveFailures > 0', timeout: '50ms' });
    const attempt = failing();
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow('circuit breaker is open');

    await sleep(60);
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow('circuit breaker is open');
    await sleep(60);
    const trial = await policy.execute(async () => 'recovered');
    const after = await policy.execute(async () => 'closed');

    expect([trial, after]).toEqual(['recovered', 'closed']);
    expect(attempt.calls).toBe(2);
  });

  test('while half-open, calls beyond maxRequests are refused at once (too many requests)', async () => {
    const policy = breakerPolicy({ trip: 'consecutiveFailures > 0', timeout: '30ms' });
    await expect(policy.execute(failing())).rejects.toThrow('boom');
    await sleep(40);
    let finishTrial!: (value: string) => void;

    const trial = policy.execute(() => new Promise<string>((resolve) => (finishTrial = resolve)));
    const second = policy.execute(async () => 'second');
    await expect(second).rejects.toThrow(/^too many requests$/);
    finishTrial('trial');

    expect(await trial).toBe('trial');
    expect(await policy.execute(async () => 'third')).toBe('third');
  });

  test('interval clears the closed-state counts', async () => {
    const policy = breakerPolicy({ trip: 'consecutiveFailures > 1', interval: '40ms' });
    const attempt = failing();

    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await sleep(50);
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    await expect(policy.execute(attempt)).rejects.toThrow('circuit breaker is open');

    expect(attempt.calls).toBe(3);
  });

  test('an open breaker stops the retries at once', async () => {
    // Were the rejection retried, the retries would outlast the 40 ms open state and run the
    // attempt again.
    const policy = appPolicy(
      {
        retries: { r: { duration: '15ms', maxRetries: 5 } },
        circuitBreakers: { cb: { trip: 'consecutiveFailures > 1', timeout: '40ms' } },
      },
      { retry: 'r', circuitBreaker: 'cb' },
    );
    const attempt = failing();

    await expect(policy.execute(attempt)).rejects.toThrow('circuit breaker is open');

    expect(attempt.calls).toBe(2);
  });

  test('the breaker state survives between lookups of the same target', async () => {
    const resiliency = createResiliency(
      [
        spec(
          { circuitBreakers: { cb: { trip: 'consecutiveFailures > 0', timeout: '10s' } } },
          { apps: { target: { circuitBreaker: 'cb' } } },
        ),
      ],
      'caller',
    );

    await expect(resiliency.app('target').execute(failing())).rejects.toThrow('boom');

    await expect(resiliency.app('target').execute(failing())).rejects.toThrow(
      'circuit breaker is open',
    );
  });
});

describe('resolution', () => {
  const retry = (maxRetries: number) => ({ duration: '1ms', maxRetries });
  const attemptsOf = async (policy: EndpointPolicy) => {
    const attempt = failing();
    await expect(policy.execute(attempt)).rejects.toThrow('boom');
    return attempt.calls;
  };

  test('without named targets the most specific Default* policy applies', async () => {
    const resiliency = createResiliency(
      [
        spec({
          retries: {
            DefaultRetryPolicy: retry(1),
            DefaultAppRetryPolicy: retry(2),
            DefaultStatestoreComponentOutboundRetryPolicy: retry(3),
            DefaultComponentInboundRetryPolicy: retry(4),
          },
        }),
      ],
      'caller',
    );

    expect(await attemptsOf(resiliency.app('anyone'))).toBe(3);
    expect(await attemptsOf(resiliency.componentOutbound('statestore', 'state'))).toBe(4);
    expect(await attemptsOf(resiliency.componentOutbound('pubsub', 'pubsub'))).toBe(2);
    expect(await attemptsOf(resiliency.componentInbound('pubsub'))).toBe(5);
  });

  test('a named target wins over defaults, and a named component without that direction gets nothing', async () => {
    const resiliency = createResiliency(
      [
        spec(
          { retries: { DefaultRetryPolicy: retry(1), named: retry(6) } },
          {
            apps: { orders: { retry: 'named' } },
            components: { pubsub: { outbound: { retry: 'named' } } },
          },
        ),
      ],
      'caller',
    );

    expect(await attemptsOf(resiliency.app('orders'))).toBe(7);
    expect(await attemptsOf(resiliency.app('products'))).toBe(2);
    expect(await attemptsOf(resiliency.componentOutbound('pubsub', 'pubsub'))).toBe(7);
    expect(resiliency.componentInbound('pubsub').isEmpty).toBe(true);
    expect(await attemptsOf(resiliency.componentInbound('pubsub'))).toBe(1);
  });

  test('nothing applies by default; built-in retries stay on unless the app is a named target', () => {
    const none = createResiliency([], 'caller');
    const named = createResiliency(
      [spec({ timeouts: { t: '1s' } }, { apps: { orders: { timeout: 't' } } })],
      'caller',
    );

    expect(none.app('orders')).toMatchObject({ isEmpty: true, builtInRetries: true });
    expect(none.componentOutbound('statestore', 'state').isEmpty).toBe(true);
    expect(named.app('orders')).toMatchObject({ isEmpty: false, builtInRetries: false });
    expect(named.app('products')).toMatchObject({ isEmpty: true, builtInRetries: true });
  });

  test('policies of several Resiliency resources merge', async () => {
    const resiliency = createResiliency(
      [
        spec({ retries: { r: retry(1) } }, {}, 'first'),
        spec({}, { apps: { orders: { retry: 'r' } } }, 'second'),
      ],
      'caller',
    );

    expect(await attemptsOf(resiliency.app('orders'))).toBe(2);
  });
});

describe('built-in service retries', () => {
  test('are constant 1 s × 3, or a policy named DaprBuiltInServiceRetries with at least 3 retries', () => {
    const named = (policy: Record<string, unknown>) => [
      spec({ retries: { DaprBuiltInServiceRetries: policy } }),
    ];

    expect(builtInServiceRetries([])).toEqual({ intervalMs: 1000, maxRetries: 3 });
    expect(builtInServiceRetries(named({ duration: '2s', maxRetries: 1 }))).toEqual({
      intervalMs: 2000,
      maxRetries: 3,
    });
    expect(builtInServiceRetries(named({ duration: '250ms', maxRetries: 5 }))).toEqual({
      intervalMs: 250,
      maxRetries: 5,
    });
    expect(builtInServiceRetries(named({}))).toEqual({ intervalMs: 5000, maxRetries: 3 });
  });
});

describe('invalid specs', () => {
  test('every problem is reported at createResiliency, in one ResourceError', () => {
    const specs = [
      spec(
        {
          timeouts: { slow: 'soon' },
          retries: {
            r: { matching: { httpStatusCodes: '500, 503' } },
            s: { matching: { httpStatusCodes: '600' } },
          },
          circuitBreakers: { cb: { trip: 'requests > 3 && totalFailures > 1' } },
        },
        { apps: { orders: { retry: 'missing', circuitBreaker: 'cb' } } },
        'first',
      ),
      spec({ retries: { r: { duration: '1s' } } }, {}, 'second'),
    ];

    let error: unknown;
    try {
      createResiliency(specs, 'orders');
    } catch (thrown) {
      error = thrown;
    }

    expect(error).toBeInstanceOf(ResourceError);
    expect((error as ResourceError).problems).toEqual([
      'resiliency first: timeout slow: invalid duration "soon" (app orders)',
      'resiliency first: retry r: invalid status code pattern " 503" (codes 100-599, e.g. "429,500-504") (app orders)',
      'resiliency first: retry s: invalid status code pattern "600" (codes 100-599, e.g. "429,500-504") (app orders)',
      'resiliency first: circuit breaker cb: trip "requests > 3 && totalFailures > 1" is not supported by the dev sidecar (it understands "consecutiveFailures > N" and "consecutiveFailures >= N") (app orders)',
      'retry r is defined in both resiliency first and second (app orders)',
      'target app orders: no retry policy named missing (app orders)',
    ]);
  });
});

describe('parseDuration', () => {
  test('reads Go durations, and bare integers as milliseconds like daprd', () => {
    const cases: [string, number][] = [
      ['500ms', 500],
      ['5s', 5000],
      ['1m30s', 90_000],
      ['1h', 3_600_000],
      ['1.5s', 1500],
      ['0s', 0],
      ['0', 0],
      ['250', 250],
      ['100us', 0.1],
    ];

    expect(cases.map(([text]) => parseDuration(text))).toEqual(cases.map(([, ms]) => ms));
    for (const bad of ['', 'five', '5 s', '5d', 's', '1.2.3s']) {
      expect(() => parseDuration(bad)).toThrow(`invalid duration "${bad}"`);
    }
  });
});
