import { createRequire } from 'node:module';
import type * as CelModule from '@marcbachmann/cel-js';
import type { SidecarContext } from '../types.ts';
import type { CloudEvent } from './cloudevent.ts';
import { structField as field, structString as text, structStringMap } from './go-structs.ts';

export interface RoutingRule {
  /** The CEL expression as written (trimmed); "" = always matches. */
  match: string;
  path: string;
  evaluate?: (variables: { event: CloudEvent }) => unknown;
}

/** A subscription as daprd keeps it (dapr:pkg/runtime/pubsub/subscriptions.go). */
export interface Subscription {
  pubsubname: string;
  topic: string;
  deadLetterTopic: string;
  metadata: Record<string, string>;
  rules: RoutingRule[];
  type: 'PROGRAMMATIC' | 'DECLARATIVE';
}

let cel: typeof CelModule | undefined;
/**
 * Loaded with the first CEL rule, synchronously (require of an ES module): most apps route without
 * rules, and a sidecar that never compiles one keeps the library's ~1 MiB out of memory (ADR 0013).
 */
const loadCel = () =>
  (cel ??= createRequire(import.meta.url)('@marcbachmann/cel-js') as typeof CelModule);

/** createRoutingRule: a CEL `match` is compiled once; a bad expression throws. */
function routingRule(match: string, path: string): RoutingRule {
  const trimmed = match.trim();
  if (trimmed === '') return { match: '', path };
  const program = loadCel().parse(trimmed);
  return { match: trimmed, path, evaluate: (variables) => program(variables) };
}

/** Rules in order, then `routes.default`, else the legacy single `route`. */
function routingRules(
  rules: { match: string; path: string }[],
  fallback: string | undefined,
): RoutingRule[] {
  const compiled = rules.map((rule) => routingRule(rule.match, rule.path));
  if (fallback) compiled.push({ match: '', path: fallback });
  return compiled;
}

/**
 * The first rule whose `match` is true (matchRoutingRule); undefined = no route, the event is
 * acked unseen. A non-bool result or an evaluation error throws: a delivery failure.
 */
export function findRoute(rules: RoutingRule[], event: CloudEvent): string | undefined {
  for (const rule of rules) {
    if (!rule.evaluate) return rule.path;
    const result = rule.evaluate({ event });
    if (typeof result !== 'boolean') {
      throw new TypeError(`the result of match expression ${rule.match} was not a boolean`);
    }
    if (result) return rule.path;
  }
  return undefined;
}

/** The Subscription resources that apply to this app; one with a bad CEL rule is skipped. */
export function declarativeSubscriptions(context: SidecarContext): Subscription[] {
  const subscriptions: Subscription[] = [];
  for (const resource of context.resources.subscriptions) {
    try {
      subscriptions.push({
        pubsubname: resource.pubsubname,
        topic: resource.topic,
        deadLetterTopic: resource.deadLetterTopic ?? '',
        metadata: resource.metadata,
        rules: routingRules(resource.routes.rules, resource.routes.default),
        type: 'DECLARATIVE',
      });
    } catch (error) {
      context.log.warn({ err: error, subscription: resource.name }, 'failed to add subscription');
    }
  }
  return subscriptions;
}

/**
 * GET /dapr/subscribe, once (docs/dapr-behaviour.md §4.3): 404 = none; another status, a body that is not
 * a JSON array or a bad CEL rule = none, with an error log. Keys match case-insensitively, as
 * Go's encoding/json matches struct fields (`pubsubName` works).
 */
export async function programmaticSubscriptions(
  context: SidecarContext,
  signal: AbortSignal,
): Promise<Subscription[]> {
  const { log } = context;
  let response;
  try {
    const headers = { 'content-type': 'application/json' };
    response = await context.app.request('GET', '/dapr/subscribe', headers, undefined, signal);
  } catch (error) {
    if (!signal.aborted) log.error({ err: error }, 'error getting topic list from app');
    return [];
  }
  if (response.status === 404) {
    log.debug('user app did not subscribe to any topic');
    return [];
  }
  if (response.status !== 200) {
    log.error(`app returned http status code ${response.status} from subscription endpoint`);
    return [];
  }
  try {
    const items = JSON.parse(response.body.toString('utf8')) as unknown;
    if (items === null) return [];
    if (!Array.isArray(items)) throw new TypeError('the subscription list is not a JSON array');
    return items.map(toSubscription).filter((subscription) => {
      if (subscription.rules.length > 0) return true;
      log.warn(`topic ${subscription.topic} has an empty routes. removing from subscriptions list`);
      return false;
    });
  } catch (error) {
    log.error({ err: error }, 'error getting topics from app');
    return [];
  }
}

function toSubscription(item: unknown): Subscription {
  const routes = field(item, 'routes');
  const rules = (field(routes, 'rules') ?? []) as unknown[];
  if (!Array.isArray(rules)) throw new TypeError('routes.rules is not an array');
  return {
    pubsubname: text(item, 'pubsubname'),
    topic: text(item, 'topic'),
    deadLetterTopic: text(item, 'deadLetterTopic'),
    metadata: structStringMap(item, 'metadata'),
    rules: routingRules(
      rules.map((rule) => ({ match: text(rule, 'match'), path: text(rule, 'path') })),
      text(routes, 'default') || text(item, 'route'),
    ),
    type: 'PROGRAMMATIC',
  };
}
