import { parseDuration } from './durations.ts';
import {
  createEndpointPolicy,
  type BreakerDefinition,
  type PolicyDefinition,
  type RetryDefinition,
} from './resiliency-policy.ts';
import { ResourceError } from './resource-error.ts';
import type { EndpointPolicy, Resiliency, ResiliencySpec } from './types.ts';

export { parseDuration } from './durations.ts';

type RetrySpec = ResiliencySpec['policies']['retries'][string];
type BreakerSpec = ResiliencySpec['policies']['circuitBreakers'][string];
type Names = { timeout?: string; retry?: string; circuitBreaker?: string };

const builtInName = 'DaprBuiltInServiceRetries';

interface Parsed {
  timeouts: Map<string, number>;
  retries: Map<string, RetryDefinition>;
  breakers: Map<string, BreakerDefinition>;
  apps: Map<string, Names>;
  components: Map<string, { inbound?: Names; outbound?: Names }>;
}

/** Resolves Resiliency specs the way daprd does (docs/dapr-behaviour.md §2.5, §2.6); throws a ResourceError on bad specs. */
export function createResiliency(specs: ResiliencySpec[], appId: string): Resiliency {
  const problems: string[] = [];
  const parsed = parseSpecs(specs, problems);
  if (problems.length > 0) throw new ResourceError(problems.map((p) => `${p} (app ${appId})`));
  // One policy object per target, so circuit breakers keep their state between lookups.
  const policies = new Map<string, EndpointPolicy & { builtInRetries: boolean }>();
  const resolve = (key: string, names: Names, builtInRetries = false) => {
    if (!policies.has(key)) {
      const policy = createEndpointPolicy(definitionOf(parsed, names));
      policies.set(key, { ...policy, builtInRetries });
    }
    return policies.get(key)!;
  };
  const component = (name: string, direction: 'inbound' | 'outbound', levels: string[]) => {
    const named = parsed.components.get(name);
    const names = named ? (named[direction] ?? {}) : defaultsOf(parsed, levels);
    return resolve(`${direction}:${name}`, names);
  };
  return {
    app: (id) => {
      const named = parsed.apps.get(id);
      return resolve(`app:${id}`, named ?? defaultsOf(parsed, ['App']), named === undefined);
    },
    componentOutbound: (name, kind) => {
      const type = kind === 'state' ? 'Statestore' : 'Pubsub';
      return component(name, 'outbound', [
        `${type}ComponentOutbound`,
        'ComponentOutbound',
        'Component',
      ]);
    },
    // Inbound traffic only comes from pub/sub here (no input bindings).
    componentInbound: (name) =>
      component(name, 'inbound', ['PubsubComponentInbound', 'ComponentInbound', 'Component']),
  };
}

/** daprd's retries for an unreachable target sidecar: constant 1 s × 3, or the policy named like them. */
export function builtInServiceRetries(specs: ResiliencySpec[]): {
  intervalMs: number;
  maxRetries: number;
} {
  const spec = specs.find((s) => s.policies.retries[builtInName])?.policies.retries[builtInName];
  if (!spec) return { intervalMs: 1000, maxRetries: 3 };
  const definition = toRetry(builtInName, spec);
  return {
    intervalMs: definition.policy === 'constant' ? definition.durationMs : 500,
    maxRetries: definition.maxRetries,
  };
}

/** Every policy and target of all specs, and every problem with them. */
function parseSpecs(specs: ResiliencySpec[], problems: string[]): Parsed {
  const parsed: Parsed = {
    timeouts: new Map(),
    retries: new Map(),
    breakers: new Map(),
    apps: new Map(),
    components: new Map(),
  };
  const owners = new Map<string, string>();
  const add = <S, T>(
    map: Map<string, T>,
    what: string,
    owner: string,
    entries: Record<string, S>,
    make: (name: string, spec: S) => T,
  ) => {
    for (const [name, spec] of Object.entries(entries)) {
      const earlier = owners.get(`${what}:${name}`);
      // daprd lets a later resource silently replace a name; here that is an error.
      if (earlier !== undefined) {
        problems.push(`${what} ${name} is defined in both resiliency ${earlier} and ${owner}`);
        continue;
      }
      owners.set(`${what}:${name}`, owner);
      try {
        map.set(name, make(name, spec));
      } catch (error) {
        problems.push(`resiliency ${owner}: ${what} ${name}: ${(error as Error).message}`);
      }
    }
  };
  for (const { name: owner, policies, targets } of specs) {
    add(parsed.timeouts, 'timeout', owner, policies.timeouts, (_, text) => parseDuration(text));
    add(parsed.retries, 'retry', owner, policies.retries, toRetry);
    add(parsed.breakers, 'circuit breaker', owner, policies.circuitBreakers, (_, spec) =>
      toBreaker(spec),
    );
    add(parsed.apps, 'target app', owner, targets.apps, (_, names) => names);
    add(parsed.components, 'target component', owner, targets.components, (_, names) => names);
  }
  // Against the declared names, so that an invalid policy is reported once, not at every use.
  const targets = [
    ...[...parsed.apps].map(([name, names]) => [`target app ${name}`, names] as const),
    ...[...parsed.components].flatMap(([name, { inbound, outbound }]) => [
      [`target component ${name} inbound`, inbound] as const,
      [`target component ${name} outbound`, outbound] as const,
    ]),
  ];
  for (const [target, names = {}] of targets) {
    for (const [what, name] of [
      ['timeout', names.timeout],
      ['retry', names.retry],
      ['circuit breaker', names.circuitBreaker],
    ]) {
      if (name !== undefined && !owners.has(`${what}:${name}`)) {
        problems.push(`${target}: no ${what} policy named ${name}`);
      }
    }
  }
  return parsed;
}

/** The Default* policies for a target: most specific level first, then Default<Kind>Policy (resiliency.go getDefaultPolicy). */
function defaultsOf(parsed: Parsed, levels: string[]): Names {
  const first = (map: Map<string, unknown>, kind: string) =>
    [...levels, ''].map((level) => `Default${level}${kind}Policy`).find((name) => map.has(name));
  return {
    timeout: first(parsed.timeouts, 'Timeout'),
    retry: first(parsed.retries, 'Retry'),
    circuitBreaker: first(parsed.breakers, 'CircuitBreaker'),
  };
}

function definitionOf(parsed: Parsed, names: Names): PolicyDefinition {
  const lookUp = <T>(map: Map<string, T>, name: string | undefined) =>
    name === undefined ? undefined : map.get(name);
  return {
    timeoutMs: lookUp(parsed.timeouts, names.timeout),
    retry: lookUp(parsed.retries, names.retry),
    breaker: lookUp(parsed.breakers, names.circuitBreaker),
  };
}

/** kit/retry DefaultConfig: constant 5 s, forever; exponential from 500 ms, capped at 60 s. */
function toRetry(name: string, spec: RetrySpec): RetryDefinition {
  let maxRetries = spec.maxRetries ?? -1;
  if (name === builtInName && maxRetries < 3) maxRetries = 3;
  const httpRanges = parseStatusRanges(spec.matching?.httpStatusCodes, [100, 599]);
  parseStatusRanges(spec.matching?.gRPCStatusCodes, [0, 16]);
  return {
    policy: spec.policy ?? 'constant',
    durationMs: spec.duration === undefined ? 5000 : parseDuration(spec.duration),
    maxIntervalMs: spec.maxInterval === undefined ? 60_000 : parseDuration(spec.maxInterval),
    maxRetries,
    // Without httpStatusCodes every failing status is retried (resiliency/retry.go mustRetryStatusCode).
    retriesStatus: (status) =>
      !httpRanges || httpRanges.some(([from, to]) => from <= status && status <= to),
  };
}

/** "429,500-504" as daprd's compilePattern reads it (no spaces, codes within low-high). */
function parseStatusRanges(patterns: string | undefined, [low, high]: [number, number]) {
  if (!patterns) return undefined;
  return patterns
    .split(',')
    .filter(Boolean)
    .map((pattern): [number, number] => {
      const codes = pattern
        .split('-')
        .map((code) => (/^[+-]?\d+$/.test(code) ? Number(code) : NaN));
      const [from = NaN, to = from] = codes;
      // NaN fails every comparison.
      if (!(codes.length <= 2 && from >= low && from <= to && to <= high)) {
        throw new Error(
          `invalid status code pattern "${pattern}" (codes ${low}-${high}, e.g. "429,500-504")`,
        );
      }
      return [from, to];
    });
}

/** gobreaker defaults: 1 half-open request, no interval, 60 s open, trip after more than 5 failures in a row. */
function toBreaker(spec: BreakerSpec): BreakerDefinition {
  const trip = /^\s*consecutiveFailures\s*(>=|>)\s*(\d+)\s*$/.exec(
    spec.trip ?? 'consecutiveFailures > 5',
  );
  if (!trip) {
    throw new Error(
      `trip "${spec.trip}" is not supported by the dev sidecar (it understands "consecutiveFailures > N" and "consecutiveFailures >= N")`,
    );
  }
  const limit = Number(trip[2]);
  const open = spec.timeout === undefined ? 0 : parseDuration(spec.timeout);
  return {
    maxRequests: spec.maxRequests || 1,
    intervalMs: Math.max(0, spec.interval === undefined ? 0 : parseDuration(spec.interval)),
    timeoutMs: open > 0 ? open : 60_000,
    trips: trip[1] === '>=' ? (failures) => failures >= limit : (failures) => failures > limit,
  };
}
