import { setTimeout as sleep } from 'node:timers/promises';
import type { BuildingBlock, SidecarContext } from '../types.ts';
import { ensureSchema } from './broker.ts';
import { bulkPublishRoute } from './bulk-publish.ts';
import { isTopicAllowed, readComponent, type PubsubComponent } from './component.ts';
import { ComponentConsumer } from './consumer.ts';
import { listenForPublishes, type PublishedListener } from './notifications.ts';
import { createPublisher, publishRoute } from './publish.ts';
import {
  declarativeSubscriptions,
  programmaticSubscriptions,
  type Subscription,
} from './subscriptions.ts';

/** How long close() lets deliveries in flight finish before leaving them pending. */
const closeGraceMs = 1500;

/** Back-off between attempts to start a component's consumer (the database refused a group). */
const restartDelayMs = { first: 1000, max: 30_000 };

/**
 * The pub/sub building block: publish (docs/dapr-behaviour.md §4.1, §4.2) into a PostgreSQL broker with
 * pubsub.redis semantics (§4.6, §4.7), and delivery to the app's subscriptions (§4.3–§4.5).
 */
export async function createPubsubApi(context: SidecarContext): Promise<BuildingBlock> {
  const components = loadComponents(context);
  if (components.size > 0) await ensureSchema(context.pool);
  const publish = createPublisher(context);
  const lifecycle = new AbortController();
  let subscriptions: Subscription[] = [];
  let consumers: ComponentConsumer[] = [];
  let listener: PublishedListener | undefined;
  let starting: Promise<void> | undefined;
  const restarts: Promise<void>[] = [];

  /** Starts one component's consumer; false (logged) when it could not. */
  const startConsumer = async (component: PubsubComponent, own: Subscription[]) => {
    const republish = (topic: string, data: Buffer, metadata: Record<string, string>) =>
      publish.one(component, topic, data, metadata);
    try {
      consumers.push(await ComponentConsumer.start(context, component, own, republish));
      return true;
    } catch (error) {
      context.log.error(
        { err: error, pubsub: component.name },
        'error subscribing to pubsub topics; retrying',
      );
      return false;
    }
  };
  // onAppReady runs once, so a failed start is retried here, in the background, until it works
  // or the sidecar closes (the consumer started nothing before failing: ComponentConsumer.start).
  const restartConsumer = async (component: PubsubComponent, own: Subscription[]) => {
    for (let wait = restartDelayMs.first; ; wait = Math.min(2 * wait, restartDelayMs.max)) {
      await sleep(wait, undefined, { signal: lifecycle.signal }).catch(() => {});
      if (lifecycle.signal.aborted || (await startConsumer(component, own))) return;
    }
  };

  const start = async () => {
    if (components.size === 0) return;
    await readAppConfig(context, lifecycle.signal);
    const found = [
      ...declarativeSubscriptions(context),
      ...(await programmaticSubscriptions(context, lifecycle.signal)),
    ];
    if (lifecycle.signal.aborted) return;
    subscriptions = usableSubscriptions(context, components, found);
    if (subscriptions.length === 0) return;
    // Listening before the first read: no publish falls between the two.
    listener = listenForPublishes(context.pool, context.log, (stream) => {
      for (const consumer of consumers) consumer.wake(stream);
    });
    await listener.ready;
    for (const component of components.values()) {
      const own = subscriptions.filter(
        (subscription) => subscription.pubsubname === component.name,
      );
      if (own.length === 0 || lifecycle.signal.aborted) continue;
      if (!(await startConsumer(component, own))) restarts.push(restartConsumer(component, own));
    }
  };

  return {
    routes: [
      {
        methods: ['POST', 'PUT'],
        pattern: '/v1.0/publish/{pubsub}/{topic...}',
        handler: publishRoute(context, components, publish.one),
      },
      {
        methods: ['POST', 'PUT'],
        pattern: '/v1.0-alpha1/publish/bulk/{pubsub}/{topic...}',
        handler: bulkPublishRoute(context, components, publish.many),
      },
    ],
    onAppReady: () => (starting ??= start()),
    metadata: () => ({
      components: [...components.values()].map(({ name, type, version }) => ({
        name,
        type,
        version,
      })),
      subscriptions: subscriptions.map(subscriptionMetadata),
    }),
    async close() {
      lifecycle.abort();
      await starting?.catch(() => {});
      await Promise.all(restarts);
      await Promise.all(consumers.map((consumer) => consumer.close(closeGraceMs)));
      consumers = [];
      await listener?.close();
    },
  };
}

/** The pubsub.redis components of this app; a malformed one fails the start, as in daprd. */
function loadComponents(context: SidecarContext): Map<string, PubsubComponent> {
  const components = new Map<string, PubsubComponent>();
  for (const resource of context.resources.components) {
    if (!resource.type.startsWith('pubsub.')) continue;
    if (resource.type !== 'pubsub.redis') {
      context.log.warn(
        `pubsub component ${resource.name} of type ${resource.type} is not supported by the dev sidecar; skipped`,
      );
      continue;
    }
    try {
      components.set(resource.name, readComponent(resource, context));
    } catch (error) {
      throw new Error(
        `failed to init component ${resource.name} (pubsub.redis/${resource.version}) from ${resource.file}: ${(error as Error).message}`,
      );
    }
  }
  return components;
}

/** GET /dapr/config, read at start like daprd does; the pub/sub block needs nothing from it. */
async function readAppConfig(context: SidecarContext, signal: AbortSignal): Promise<void> {
  try {
    const response = await context.app.request('GET', '/dapr/config', {}, undefined, signal);
    context.log.debug({ status: response.status }, 'read the app configuration');
  } catch (error) {
    if (!signal.aborted) context.log.debug({ err: error }, 'app configuration unavailable');
  }
}

/** Known component, scoping allows it, first subscription per (pubsub, topic) wins. */
function usableSubscriptions(
  context: SidecarContext,
  components: Map<string, PubsubComponent>,
  found: Subscription[],
): Subscription[] {
  const seen = new Set<string>();
  return found.filter(({ pubsubname, topic }) => {
    const component = components.get(pubsubname);
    const key = JSON.stringify([pubsubname, topic]);
    if (!component) {
      context.log.warn(`pubsub ${pubsubname} not found; subscription to topic ${topic} skipped`);
    } else if (!isTopicAllowed(component, context.appId, topic, 'subscribe')) {
      context.log.warn(`subscription to topic '${topic}' on pubsub '${pubsubname}' is not allowed`);
    } else if (seen.has(key)) {
      context.log.warn(`duplicate subscription to topic ${topic} on pubsub ${pubsubname} skipped`);
    } else {
      seen.add(key);
      return true;
    }
    return false;
  });
}

/**
 * An entry of GET /v1.0/metadata `subscriptions` (docs/dapr-behaviour.md §5): empty metadata
 * omitted, but deadLetterTopic always there, `""` when unset, as daprd 1.18.3 answers.
 */
function subscriptionMetadata(subscription: Subscription): Record<string, unknown> {
  return {
    pubsubname: subscription.pubsubname,
    topic: subscription.topic,
    ...(Object.keys(subscription.metadata).length > 0 ? { metadata: subscription.metadata } : {}),
    rules: subscription.rules.map(({ match, path }) => (match ? { match, path } : { path })),
    deadLetterTopic: subscription.deadLetterTopic ?? '',
    type: subscription.type,
  };
}
