import { randomUUID } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import type { ReserveRequest, ReserveResponse } from '@sidecart/contracts';
import { reservationBatches } from '../src/clients/reservation-batches.ts';

// The batching policy alone, with products' side of the call held in the test's hand: which
// reservations leave together, and when. The whole path through real sidecars is the flash-sale
// e2e's; products' batch route has its own tests.

interface SentCall {
  batch: readonly ReserveRequest[];
  answer(): void;
  fail(error: Error): void;
}

function products() {
  const sent: SentCall[] = [];
  const send = (batch: readonly ReserveRequest[]) =>
    new Promise<ReserveResponse[]>((resolve, reject) => {
      const answers = batch.map(({ orderId, lines }) => ({
        status: 'reserved' as const,
        orderId,
        lines: lines.map((line) => ({ ...line, priceCents: 100, currency: 'EUR' })),
      }));
      sent.push({ batch, answer: () => resolve(answers), fail: reject });
    });
  return { sent, send };
}

const request = (): ReserveRequest => ({
  orderId: randomUUID(),
  lines: [{ productId: randomUUID(), quantity: 1 }],
});
const ticks = () => new Promise((resolve) => setImmediate(resolve));

describe('reservation batches', () => {
  test('a reservation with a free call slot leaves alone, at once', async () => {
    const { sent, send } = products();
    const { reserve } = reservationBatches({ send, callsInFlight: 2, maxBatch: 64 });

    const one = request();
    const answer = reserve(one);
    await ticks();

    expect(sent.map(({ batch }) => batch)).toEqual([[one]]);
    sent[0]!.answer();
    expect(await answer).toMatchObject({ status: 'reserved', orderId: one.orderId });
  });

  test('reservations of one tick share one call', async () => {
    const { sent, send } = products();
    const { reserve } = reservationBatches({ send, callsInFlight: 2, maxBatch: 64 });

    const answers = [request(), request(), request()].map((one) => reserve(one));
    await ticks();
    sent[0]!.answer();

    expect(sent.map(({ batch }) => batch.length)).toEqual([3]);
    expect(await Promise.all(answers)).toHaveLength(3);
  });

  test('while every slot is out, reservations queue and leave as one batch when a call returns', async () => {
    const { sent, send } = products();
    const { reserve } = reservationBatches({ send, callsInFlight: 2, maxBatch: 64 });
    const first = [request(), request()];
    const queued = Array.from({ length: 5 }, request);

    const answers = [];
    for (const one of first) {
      answers.push(reserve(one));
      await ticks();
    }
    answers.push(...queued.map((one) => reserve(one)));
    await ticks();
    expect(sent.map(({ batch }) => batch.length)).toEqual([1, 1]);

    sent[1]!.answer();
    await ticks();
    expect(sent.map(({ batch }) => batch)).toEqual([[first[0]], [first[1]], queued]);

    sent[0]!.answer();
    sent[2]!.answer();
    const orderIds = (await Promise.all(answers)).map((answer) => answer.orderId);
    expect(orderIds).toEqual([...first, ...queued].map((one) => one.orderId));
  });

  test('a queue longer than maxBatch leaves in several calls, none over the limit', async () => {
    const { sent, send } = products();
    const { reserve, counts } = reservationBatches({ send, callsInFlight: 1, maxBatch: 4 });
    reserve(request());
    await ticks();

    const queued = Array.from({ length: 10 }, () => reserve(request()));
    sent[0]!.answer();
    for (let call = 1; call < 4; call += 1) {
      await ticks();
      sent[call]!.answer();
    }
    await Promise.all(queued);

    expect(sent.map(({ batch }) => batch.length)).toEqual([1, 4, 4, 2]);
    expect(counts).toEqual({ calls: 4, reservations: 11 });
  });

  test('a failed call fails each of its reservations, and frees its slot for the next batch', async () => {
    const { sent, send } = products();
    const { reserve } = reservationBatches({ send, callsInFlight: 1, maxBatch: 64 });
    const doomed = [reserve(request()), reserve(request())];
    await ticks();

    const next = reserve(request());
    sent[0]!.fail(new Error('products is down'));
    const outcomes = await Promise.allSettled(doomed);
    await ticks();
    sent[1]!.answer();

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(await next).toMatchObject({ status: 'reserved' });
    expect(sent.map(({ batch }) => batch.length)).toEqual([2, 1]);
  });
});
