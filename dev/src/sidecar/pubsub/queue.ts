/**
 * The component's message channel (pubsub.redis `queueDepth`): readers push, `concurrency`
 * workers take. Closing drops what is queued: those entries stay pending in the broker, to be
 * reclaimed by another replica, as messages buffered in a stopped daprd are.
 */
export class WorkQueue<T> {
  readonly #capacity: number;
  readonly #items: T[] = [];
  #takers: ((item: T | undefined) => void)[] = [];
  #spaceWaiters: (() => void)[] = [];
  #closed = false;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get free(): number {
    return Math.max(0, this.#capacity - this.#items.length);
  }

  /** Resolves once there is room (or the queue is closed). */
  async waitForSpace(): Promise<void> {
    while (!this.#closed && this.free === 0) {
      await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
    }
  }

  async push(item: T): Promise<void> {
    await this.waitForSpace();
    if (this.#closed) return;
    const taker = this.#takers.shift();
    if (taker) taker(item);
    else this.#items.push(item);
  }

  /** The next item, or undefined once closed. */
  take(): Promise<T | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const item = this.#items.shift();
    if (item !== undefined) {
      for (const waiter of this.#spaceWaiters.splice(0)) waiter();
      return Promise.resolve(item);
    }
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    for (const taker of this.#takers.splice(0)) taker(undefined);
    for (const waiter of this.#spaceWaiters.splice(0)) waiter();
  }
}

/** A wake-up call that is not lost when it arrives before the wait. */
export class Wakeup {
  #pending = false;
  #wake: (() => void) | undefined;

  notify(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Returns at the next notify(), or after `ms`. */
  async wait(ms: number): Promise<void> {
    if (!this.#pending) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        this.#wake = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.#wake = undefined;
    }
    this.#pending = false;
  }
}
