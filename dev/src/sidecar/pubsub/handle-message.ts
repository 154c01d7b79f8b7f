import type { Logger } from '@sidecart/chassis/logger';
import type { EndpointPolicy, SidecarContext } from '../types.ts';
import type { StreamEntry } from './broker.ts';
import {
  envelopeBytes,
  hasExpired,
  isRawPayload,
  rawPayloadEvent,
  type CloudEvent,
} from './cloudevent.ts';
import { redeliveryEnabled, type PubsubComponent } from './component.ts';
import { deliver, type Outcome } from './delivery.ts';
import { findRoute, type Subscription } from './subscriptions.ts';

export interface MessageHandling {
  context: SidecarContext;
  component: PubsubComponent;
  subscription: Subscription;
  inbound: EndpointPolicy;
  /** Publishes to a topic of the same component (scopes and outbound policy apply). */
  republish(topic: string, data: Buffer, metadata: Record<string, string>): Promise<void>;
  /** Aborted when the sidecar closes: unfinished deliveries stay pending. */
  closing: AbortSignal;
}

/** `ack` removes the entry from the pending list; `keep` leaves it for redelivery. */
export type Verdict = 'ack' | 'keep';

/**
 * One stream entry through daprd's subscription handler (docs/dapr-behaviour.md §4.5 "Order of processing"):
 * parse, expiry, routing, delivery under the inbound policy, then the dead-letter topic.
 */
export async function handleMessage(h: MessageHandling, entry: StreamEntry): Promise<Verdict> {
  const run = new MessageRun(h, entry);
  const parsed = readEvent(h, entry);
  if (parsed instanceof Error) return run.fail('error deserializing cloud event', parsed);
  const { event, body } = parsed;
  const id = String(event.id);
  if (hasExpired(event)) {
    run.log.warn(`dropping expired pub/sub event ${id} as of ${String(event.expiration)}`);
    return run.setAside();
  }
  let path: string | undefined;
  try {
    path = findRoute(h.subscription.rules, event);
  } catch (error) {
    return run.fail(`error finding matching route for event ${id}`, error);
  }
  if (path === undefined) {
    run.log.debug(`no matching route for event ${id}; skipping`);
    return run.setAside();
  }

  const message = { path, body, event, metadata: run.metadata };
  const outcome = await deliverUnderPolicy(h, message, run.cutShort);
  if (outcome.kind === 'success') return 'ack';
  if (outcome.kind === 'drop') {
    run.log.warn(`pub/sub event ${id} dropped by the app`);
    if (!h.subscription.deadLetterTopic || (await run.deadLetter())) return 'ack';
    return run.fail(`dropped event ${id} could not be dead-lettered`);
  }
  return run.fail(`delivering pub/sub event ${id} failed`, outcome.error);
}

type Delivered = Exclude<Outcome, { kind: 'retry' }> | { kind: 'failure'; error: unknown };

async function deliverUnderPolicy(
  h: MessageHandling,
  message: { path: string; body: Buffer; event: CloudEvent; metadata: Record<string, string> },
  cutShort: AbortSignal,
): Promise<Delivered> {
  try {
    const outcome = await h.inbound.execute(
      (signal) => deliver(h.context.app, { ...message, pubsubName: h.component.name }, signal),
      {
        failureStatus: (result) => (result.kind === 'retry' ? result.status : undefined),
        signal: cutShort,
      },
    );
    if (outcome.kind !== 'retry') return outcome;
    return { kind: 'failure', error: `the app answered HTTP ${outcome.status}` };
  } catch (error) {
    return { kind: 'failure', error };
  }
}

/**
 * The verdicts of one handling, as pubsub.redis ≥ 1.17 gives them (docs/dapr-behaviour.md §4.7): every entry
 * is acked once handled, failures included, unless the handling was cut short — the sidecar
 * closing, or processing outlasting processingTimeout — which leaves it pending.
 */
class MessageRun {
  readonly log: Logger;
  /** The runtime adds the component name to the message metadata; a dead letter carries it. */
  readonly metadata: Record<string, string>;
  /**
   * Aborts at close, and at processingTimeout when redelivery is on: by then another replica may
   * have claimed the entry, so this handling (its retries included) must stop, as daprd cancels
   * the handler's context (docs/dapr-behaviour.md §4.7).
   */
  readonly cutShort: AbortSignal;
  readonly #h: MessageHandling;
  readonly #entry: StreamEntry;

  constructor(h: MessageHandling, entry: StreamEntry) {
    this.#h = h;
    this.#entry = entry;
    this.log = h.context.log.child({ pubsub: h.component.name, topic: h.subscription.topic });
    this.metadata = { ...entry.metadata, pubsubName: h.component.name };
    const { component, closing } = h;
    this.cutShort = redeliveryEnabled(component)
      ? AbortSignal.any([closing, AbortSignal.timeout(component.processingTimeoutMs)])
      : closing;
  }

  /** Republishes the original bytes and metadata to the dead-letter topic, if there is one. */
  async deadLetter(): Promise<boolean> {
    const topic = this.#h.subscription.deadLetterTopic;
    if (!topic) return false;
    try {
      await this.#h.republish(topic, this.#entry.data, this.metadata);
      return true;
    } catch (error) {
      this.log.error({ err: error }, `error sending message to dead letter topic ${topic}`);
      return false;
    }
  }

  /** Expired or unrouted: dead-lettered when configured, acked either way. */
  async setAside(): Promise<Verdict> {
    await this.deadLetter();
    return 'ack';
  }

  async fail(reason: string, error?: unknown): Promise<Verdict> {
    this.log.warn({ err: error, entry: this.#entry.id }, reason);
    if (this.cutShort.aborted) return 'keep';
    if (await this.deadLetter()) return 'ack';
    if (this.cutShort.aborted) return 'keep';
    this.log.warn(
      { entry: this.#entry.id },
      'pub/sub message lost: its delivery failed and there is no dead-letter topic ' +
        '(pubsub.redis acks failed messages since daprd 1.17)',
    );
    return 'ack';
  }
}

/** The CloudEvent to route and the bytes to deliver, or why there are none. */
function readEvent(
  h: MessageHandling,
  entry: StreamEntry,
): { event: CloudEvent; body: Buffer } | Error {
  try {
    if (isRawPayload(h.subscription.metadata)) {
      const event = rawPayloadEvent(entry.data, h.subscription.topic, h.component.name);
      const { traceid, traceparent, tracestate } = entry.metadata;
      if (traceid !== undefined) event.traceid = traceid;
      if (traceparent !== undefined) event.traceid = event.traceparent = traceparent;
      if (tracestate !== undefined) event.tracestate = tracestate;
      return { event, body: envelopeBytes(event) };
    }
    const event = JSON.parse(entry.data.toString('utf8')) as unknown;
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      return new TypeError('the message is not a JSON object');
    }
    return { event: event as CloudEvent, body: entry.data };
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
