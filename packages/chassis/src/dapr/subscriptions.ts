import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/*
 * Dapr subscriptions as plain Koa routes (docs/dapr-behaviour.md §4.3–§4.5), not the SDK's DaprServer, which
 * reports a throwing handler as SUCCESS (js-sdk#720). Every delivery is answered 200 with a status:
 * a 404 would make Dapr drop the event and a bare 500 hides why (§7). Mount the router through
 * createApp: its JSON parser accepts application/cloudevents+json.
 *
 * Delivery is at-least-once (§4.6), so make `handle` idempotent with the chassis inbox, keyed by
 * the CloudEvent id (the publisher's outbox id):
 *
 *   handle: (event) =>
 *     handleOnce(orm.em.fork(), 'products', event.id, (em) => releaseStock(em, event.data))
 *
 * A 'duplicate' outcome is a success too: the event was applied before.
 */

/** A delivered CloudEvent; `data` has passed the subscription's schema. */
export interface DaprEvent<T = unknown> {
  /** The CloudEvent id: the idempotency key. */
  id: string;
  /**
   * The topic it was published to (the CloudEvent's `topic`): on a dead-letter topic, that is
   * still the original one (docs/dapr-behaviour.md §4.5).
   */
  topic: string;
  /** The publisher's app id. */
  source: string;
  type: string;
  time?: string;
  data: T;
}

/** Nothing = SUCCESS; 'retry' = try again later; 'drop' = give up (to the dead-letter topic). */
export type HandlerOutcome = void | 'retry' | 'drop';

export interface Subscription<S extends z.ZodType = z.ZodType> {
  topic: string;
  schema: S;
  /** Defaults to `<topic>-dead-letter` (deadLetterTopicOf). */
  deadLetterTopic?: string;
  /** Defaults to `/dapr/events/<topic>`. */
  route?: string;
  handle(event: DaprEvent<z.output<S>>, ctx: Context): Promise<HandlerOutcome>;
}

/** Types `handle`'s event from the schema; the result fits in the `subscriptions` list. */
export const defineSubscription = <S extends z.ZodType>(subscription: Subscription<S>) =>
  // Sound: the router validates data with this same schema before calling handle.
  subscription as unknown as Subscription;

export interface DaprSubscriptionsOptions {
  pubsubName: string;
  /** APP_API_TOKEN: when set, deliveries must carry it as `dapr-api-token` (docs/dapr-behaviour.md §1.2). */
  appApiToken?: string;
  logger: Logger;
  subscriptions: Subscription[];
}

/** Where events go that failed for good: one dead-letter topic per topic, shared by its consumers. */
export const deadLetterTopicOf = (topic: string) => `${topic}-dead-letter`;

type DeliveryStatus = 'SUCCESS' | 'RETRY' | 'DROP';

const cloudEvent = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  specversion: z.string().min(1),
  time: z.string().optional(),
  topic: z.string().optional(),
  data: z.unknown(),
});

/** GET /dapr/subscribe plus one POST route per subscription. */
export function daprSubscriptions(options: DaprSubscriptionsOptions): Router {
  const router = new Router();
  const entries = options.subscriptions.map((subscription) => ({
    pubsubname: options.pubsubName,
    topic: subscription.topic,
    route: subscription.route ?? defaultRoute(subscription.topic),
    deadLetterTopic: subscription.deadLetterTopic ?? deadLetterTopicOf(subscription.topic),
  }));
  const topics = entries.map((entry) => entry.topic);
  const repeated = topics.find((topic, index) => topics.indexOf(topic) !== index);
  if (repeated) throw new Error(`topic ${repeated} is subscribed twice`);

  // Not token-checked: the list is no secret, and a 401 here would silently leave the app with
  // no subscriptions at all (daprd logs the failure once at start-up, §4.3).
  router.get('/dapr/subscribe', (ctx) => {
    ctx.body = entries;
  });
  options.subscriptions.forEach((subscription, index) => {
    router.post(entries[index]!.route, async (ctx) => {
      if (options.appApiToken) requireSidecar(ctx, options.appApiToken);
      const log = options.logger.child({ topic: subscription.topic });
      ctx.body = { status: await deliver(subscription, ctx, log) };
    });
  });
  return router;
}

async function deliver(
  subscription: Subscription,
  ctx: Context,
  logger: Logger,
): Promise<DeliveryStatus> {
  const envelope = cloudEvent.safeParse(ctx.request.body);
  if (!envelope.success) {
    logger.warn({ issues: envelope.error.issues }, 'not a CloudEvent: dropped to the dead letters');
    return 'DROP';
  }
  const { id, source, type, time, data, topic = subscription.topic } = envelope.data;
  const log = logger.child({ eventId: id, source });
  const parsed = subscription.schema.safeParse(data);
  if (!parsed.success) {
    log.warn(
      { issues: parsed.error.issues },
      'event breaks its contract: dropped to the dead letters',
    );
    return 'DROP';
  }
  try {
    const event = { id, topic, source, type, time, data: parsed.data };
    return statusOf(await subscription.handle(event, ctx), log);
  } catch (error) {
    log.error({ err: error }, 'event handler failed: Dapr will retry');
    return 'RETRY';
  }
}

function statusOf(outcome: HandlerOutcome, log: Logger): DeliveryStatus {
  if (outcome === 'retry') return 'RETRY';
  if (outcome === 'drop') {
    log.warn('event handler dropped the event to the dead letters');
    return 'DROP';
  }
  return 'SUCCESS';
}

function defaultRoute(topic: string): string {
  // Other characters mean something to the router's path syntax.
  if (!/^[\w.-]+$/.test(topic)) throw new Error(`topic ${topic} needs an explicit route`);
  return `/dapr/events/${topic}`;
}

/** Only the sidecar may deliver: it sends APP_API_TOKEN. Hashes make the compare length-blind. */
function requireSidecar(ctx: Context, token: string): void {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  if (!timingSafeEqual(digest(ctx.get('dapr-api-token')), digest(token))) {
    throw new AppError(401, 'invalid-app-token', 'Only the Dapr sidecar may deliver events');
  }
}
