import { describe, expect, test } from '@jest/globals';
import { Registry } from 'prom-client';
import { batchesInFlight, registerBatchMetrics } from '../src/batches.ts';

// The batching policy alone, with the far side of each batch held in the test's hand: which items
// leave together, and when. Its users' whole paths are theirs to test: orders' reserve calls in
// the flash-sale e2e, products' reservation statements in its reservation tests.

interface SentCall {
  batch: readonly Item[];
  answer(): void;
  fail(error: Error): void;
}

interface Item {
  id: number;
}

/** The far side: every batch it is sent waits until the test answers or fails it. */
function farSide() {
  const sent: SentCall[] = [];
  const send = (batch: readonly Item[]) =>
    new Promise<{ answered: number }[]>((resolve, reject) => {
      const answers = batch.map(({ id }) => ({ answered: id }));
      sent.push({ batch, answer: () => resolve(answers), fail: reject });
    });
  return { sent, send };
}

let nextId = 0;
const item = (): Item => ({ id: (nextId += 1) });
const ticks = () => new Promise((resolve) => setImmediate(resolve));

describe('batches in flight', () => {
  test('an item with a free slot leaves alone, at once', async () => {
    const { sent, send } = farSide();
    const { load } = batchesInFlight({ send, inFlight: 2, maxBatch: 64 });

    const one = item();
    const answer = load(one);
    await ticks();

    expect(sent.map(({ batch }) => batch)).toEqual([[one]]);
    sent[0]!.answer();
    expect(await answer).toEqual({ answered: one.id });
  });

  test('items of one tick share one batch', async () => {
    const { sent, send } = farSide();
    const { load } = batchesInFlight({ send, inFlight: 2, maxBatch: 64 });

    const answers = [item(), item(), item()].map((one) => load(one));
    await ticks();
    sent[0]!.answer();

    expect(sent.map(({ batch }) => batch.length)).toEqual([3]);
    expect(await Promise.all(answers)).toHaveLength(3);
  });

  test('while every slot is out, items queue and leave as one batch when one comes back', async () => {
    const { sent, send } = farSide();
    const { load } = batchesInFlight({ send, inFlight: 2, maxBatch: 64 });
    const first = [item(), item()];
    const queued = Array.from({ length: 5 }, item);

    const answers = [];
    for (const one of first) {
      answers.push(load(one));
      await ticks();
    }
    answers.push(...queued.map((one) => load(one)));
    await ticks();
    expect(sent.map(({ batch }) => batch.length)).toEqual([1, 1]);

    sent[1]!.answer();
    await ticks();
    expect(sent.map(({ batch }) => batch)).toEqual([[first[0]], [first[1]], queued]);

    sent[0]!.answer();
    sent[2]!.answer();
    const answered = (await Promise.all(answers)).map((answer) => answer.answered);
    expect(answered).toEqual([...first, ...queued].map((one) => one.id));
  });

  test('a queue longer than maxBatch leaves in several batches, none over the limit', async () => {
    const { sent, send } = farSide();
    const { load, counts } = batchesInFlight({ send, inFlight: 1, maxBatch: 4 });
    load(item());
    await ticks();

    const queued = Array.from({ length: 10 }, () => load(item()));
    sent[0]!.answer();
    for (let call = 1; call < 4; call += 1) {
      await ticks();
      sent[call]!.answer();
    }
    await Promise.all(queued);

    expect(sent.map(({ batch }) => batch.length)).toEqual([1, 4, 4, 2]);
    expect(counts).toEqual({ batches: 4, items: 11 });
  });

  test('a failed batch fails each of its items, and frees its slot for the next batch', async () => {
    const { sent, send } = farSide();
    const { load } = batchesInFlight({ send, inFlight: 1, maxBatch: 64 });
    const doomed = [load(item()), load(item())];
    await ticks();

    const next = load(item());
    sent[0]!.fail(new Error('the far side is down'));
    const outcomes = await Promise.allSettled(doomed);
    await ticks();
    sent[1]!.answer();

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(await next).toHaveProperty('answered');
    expect(sent.map(({ batch }) => batch.length)).toEqual([2, 1]);
  });
});

describe('batch metrics', () => {
  test('count batches and items as they stood when scraped', async () => {
    const registry = new Registry();
    const counts = { batches: 0, items: 0 };
    registerBatchMetrics(registry, counts, {
      batches: { name: 'test_batches_total', help: 'batches' },
      items: { name: 'test_items_total', help: 'items' },
    });
    const scrape = async () =>
      (await registry.getMetricsAsJSON()).map((metric) => [metric.name, metric.values[0]?.value]);

    counts.batches = 2;
    counts.items = 7;
    const first = await scrape();
    counts.batches = 3;
    counts.items = 8;

    expect(first).toEqual([
      ['test_batches_total', 2],
      ['test_items_total', 7],
    ]);
    expect(await scrape()).toEqual([
      ['test_batches_total', 3],
      ['test_items_total', 8],
    ]);
  });
});
