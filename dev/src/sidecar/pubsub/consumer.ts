import { setTimeout as delay } from 'node:timers/promises';
import type { SidecarContext } from '../types.ts';
import {
  ackEntry,
  claimIdleEntries,
  createGroup,
  readNewEntries,
  type StreamEntry,
  type StreamKey,
} from './broker.ts';
import { redeliveryEnabled, type PubsubComponent } from './component.ts';
import { handleMessage, type MessageHandling } from './handle-message.ts';
import { Wakeup, WorkQueue } from './queue.ts';
import type { Subscription } from './subscriptions.ts';

/** The fallback poll when no notification arrives (the LISTEN connection may be down). */
const pollIntervalMs = 1000;

interface Job {
  handling: MessageHandling;
  groupId: string;
  entry: StreamEntry;
}

interface Reader {
  handling: MessageHandling;
  groupId: string;
  reads: Wakeup;
  reclaims: Wakeup;
}

const streamName = (stream: StreamKey) => JSON.stringify([stream.component, stream.topic]);

/**
 * The subscriptions of one component, consumed as pubsub.redis does: per subscription a reader
 * (XREADGROUP into a queue of queueDepth) and a reclaimer (every redeliverInterval, entries idle
 * for processingTimeout), and `concurrency` workers shared by the component.
 */
export class ComponentConsumer {
  readonly #context: SidecarContext;
  readonly #component: PubsubComponent;
  readonly #queue: WorkQueue<Job>;
  /** Stops the loops; deliveries in flight go on. */
  readonly #stopping = new AbortController();
  /** Cuts deliveries in flight short: they stay pending. */
  readonly #aborting = new AbortController();
  readonly #readers = new Map<string, Reader>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #loops: Promise<void>[] = [];

  private constructor(context: SidecarContext, component: PubsubComponent) {
    this.#context = context;
    this.#component = component;
    this.#queue = new WorkQueue(component.queueDepth);
  }

  /**
   * Creates the consumer groups (XGROUP CREATE … 0), then starts reading. All groups come first:
   * if one cannot be created, nothing has started (no reader filling a pending list no worker
   * serves) and the call can simply be repeated (creating a group is idempotent).
   */
  static async start(
    context: SidecarContext,
    component: PubsubComponent,
    subscriptions: Subscription[],
    republish: MessageHandling['republish'],
  ): Promise<ComponentConsumer> {
    const consumer = new ComponentConsumer(context, component);
    const inbound = context.resiliency.componentInbound(component.name);
    const closing = consumer.#aborting.signal;
    const readers: [StreamKey, Reader][] = [];
    for (const subscription of subscriptions) {
      const stream = { component: component.name, topic: subscription.topic };
      const groupId = await createGroup(context.pool, stream, component.consumerGroup);
      const handling = { context, component, subscription, inbound, republish, closing };
      readers.push([stream, { handling, groupId, reads: new Wakeup(), reclaims: new Wakeup() }]);
    }
    for (const [stream, reader] of readers) consumer.#addReader(stream, reader);
    for (let i = 0; i < component.concurrency; i++) consumer.#loops.push(consumer.#work());
    return consumer;
  }

  #addReader(stream: StreamKey, reader: Reader): void {
    this.#readers.set(streamName(stream), reader);
    this.#loops.push(this.#read(reader));
    if (redeliveryEnabled(this.#component)) this.#loops.push(this.#reclaim(reader));
  }

  /** A publish on this stream was notified: read it now. */
  wake(stream: StreamKey): void {
    this.#readers.get(streamName(stream))?.reads.notify();
  }

  /** Stops reading; waits up to graceMs for deliveries in flight, then aborts the rest. */
  async close(graceMs: number): Promise<void> {
    this.#stopping.abort();
    this.#queue.close();
    for (const reader of this.#readers.values()) {
      reader.reads.notify();
      reader.reclaims.notify();
    }
    const grace = new AbortController();
    await Promise.race([
      Promise.allSettled([...this.#inflight]),
      delay(graceMs, undefined, { signal: grace.signal }).catch(() => {}),
    ]);
    grace.abort();
    this.#aborting.abort();
    await Promise.allSettled(this.#loops);
  }

  get #stopped(): boolean {
    return this.#stopping.signal.aborted;
  }

  async #read({ handling, groupId, reads }: Reader): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#queue.waitForSpace();
        if (this.#stopped) return;
        const count = this.#queue.free || 1;
        const entries = await readNewEntries(this.#context.pool, groupId, this.#consumer, count);
        for (const entry of entries) await this.#queue.push({ handling, groupId, entry });
        if (entries.length > 0) continue;
      } catch (error) {
        if (!this.#stopped) this.#context.log.error({ err: error }, 'error reading a stream');
      }
      await reads.wait(pollIntervalMs);
    }
  }

  async #reclaim({ handling, groupId, reclaims }: Reader): Promise<void> {
    const { processingTimeoutMs, queueDepth, redeliverIntervalMs } = this.#component;
    while (!this.#stopped) {
      try {
        let claimed: StreamEntry[];
        do {
          claimed = await claimIdleEntries(
            this.#context.pool,
            groupId,
            this.#consumer,
            processingTimeoutMs,
            queueDepth,
          );
          for (const entry of claimed) await this.#queue.push({ handling, groupId, entry });
        } while (claimed.length === queueDepth && !this.#stopped);
      } catch (error) {
        if (!this.#stopped)
          this.#context.log.error({ err: error }, 'error claiming pending entries');
      }
      await reclaims.wait(redeliverIntervalMs);
    }
  }

  async #work(): Promise<void> {
    for (let job = await this.#queue.take(); job; job = await this.#queue.take()) {
      const running = this.#handle(job);
      this.#inflight.add(running);
      await running;
      this.#inflight.delete(running);
    }
  }

  async #handle({ handling, groupId, entry }: Job): Promise<void> {
    try {
      const verdict = await handleMessage(handling, entry);
      if (verdict === 'ack') await ackEntry(this.#context.pool, groupId, entry.id);
    } catch (error) {
      this.#context.log.error({ err: error }, 'error processing a pub/sub message');
    }
  }

  /** The pending-list owner: this sidecar (Redis itself names every replica after the group). */
  get #consumer(): string {
    return this.#context.instanceId;
  }
}
