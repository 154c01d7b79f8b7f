import { randomUUID } from 'node:crypto';
import { parseDuration } from '../durations.ts';
import { metadataValue, type ComponentResource, type SidecarContext } from '../types.ts';

/** A `pubsub.redis` component as the dev broker runs it (contrib:pubsub/redis, docs/dapr-behaviour.md §4.7). */
export interface PubsubComponent {
  name: string;
  type: string;
  version: string;
  /** The consumer group of this app: `consumerID`, templates expanded (default: the app id). */
  consumerGroup: string;
  /** 0 disables redelivery, as does a 0 redeliverInterval. */
  processingTimeoutMs: number;
  redeliverIntervalMs: number;
  queueDepth: number;
  concurrency: number;
  maxLenApprox?: number;
  streamTtlMs?: number;
  resource: ComponentResource;
}

/** Reads the redis settings; throws on a malformed value, as the component's Init would. */
export function readComponent(
  resource: ComponentResource,
  context: SidecarContext,
): PubsubComponent {
  const value = (name: string) => metadataValue(resource, name) || undefined;
  const maxLen = value('maxLenApprox');
  const streamTtl = value('streamTTL');
  return {
    name: resource.name,
    type: resource.type,
    version: resource.version,
    consumerGroup: expandTemplates(value('consumerID') ?? '{appID}', context),
    processingTimeoutMs: milliseconds(value('processingTimeout'), 15_000, 'processingTimeout'),
    redeliverIntervalMs: milliseconds(value('redeliverInterval'), 60_000, 'redeliverInterval'),
    queueDepth: count(value('queueDepth'), 100, 'queueDepth'),
    concurrency: count(value('concurrency'), 10, 'concurrency'),
    maxLenApprox: maxLen === undefined ? undefined : count(maxLen, 0, 'maxLenApprox'),
    streamTtlMs: streamTtl === undefined ? undefined : milliseconds(streamTtl, 0, 'streamTTL'),
    resource,
  };
}

/** Templated metadata values (docs: reference/resource-specs/component-schema). */
function expandTemplates(text: string, context: SidecarContext): string {
  return text
    .replaceAll('{appID}', context.appId)
    .replaceAll('{podName}', context.instanceId)
    .replaceAll('{namespace}', `${context.namespace ?? 'default'}.${context.appId}`)
    .replaceAll('{uuid}', () => randomUUID());
}

/** A Go duration or a number of milliseconds (contrib redis settings). */
function milliseconds(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  try {
    const ms = parseDuration(text);
    if (ms >= 0) return ms;
  } catch {
    // reported below
  }
  throw new Error(`redis streams error: can't parse ${name} field: ${text}`);
}

function count(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text))
    throw new Error(`redis streams error: can't parse ${name} field: ${text}`);
  return Number(text);
}

export const redeliveryEnabled = (component: PubsubComponent): boolean =>
  component.processingTimeoutMs > 0 && component.redeliverIntervalMs > 0;

/**
 * Topic scoping of pub/sub components (dapr:pkg/runtime/pubsub IsOperationAllowed, scopes.go):
 * `allowedTopics` limits every app; a `protectedTopics` entry needs an explicit scope; an app
 * listed in publishingScopes/subscriptionScopes may use only its topics (`app=` = none).
 */
export function isTopicAllowed(
  component: PubsubComponent,
  appId: string,
  topic: string,
  operation: 'publish' | 'subscribe',
): boolean {
  const allowed = topicList(component, 'allowedTopics');
  if (allowed.length > 0 && !allowed.includes(topic)) return false;
  const isProtected = topicList(component, 'protectedTopics').includes(topic);
  const scoped = scopedTopics(
    component,
    operation === 'publish' ? 'publishingScopes' : 'subscriptionScopes',
    appId,
  );
  if (!isProtected && scoped.length === 0) return true;
  return scoped.includes(topic);
}

function topicList(component: PubsubComponent, name: string): string[] {
  const value = metadataValue(component.resource, name);
  return value ? [...new Set(value.replaceAll(' ', '').split(','))] : [];
}

function scopedTopics(component: PubsubComponent, name: string, appId: string): string[] {
  const value = metadataValue(component.resource, name);
  if (!value) return [];
  const topics = new Set<string>();
  for (const entry of value.replaceAll(' ', '').split(';')) {
    const parts = entry.split('=');
    if (parts.length < 2 || parts[0] !== appId) continue;
    for (const topic of parts[1]!.split(',')) topics.add(topic);
  }
  return [...topics];
}
