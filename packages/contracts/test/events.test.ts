import { describe, expect, test } from '@jest/globals';
import { eventNames, events, parseEvent, type EventData, type EventName } from '../src/index.ts';

const productId = '0192f3a4-5b6c-7d8e-9f01-23456789abcd';
const sellerId = '0192f3a4-5b6c-7d8e-9f01-23456789abce';
const orderId = '2b1e4a7c-3d5f-4e6a-8b9c-0d1e2f3a4b5c';
const userId = '0192f3a4-5b6c-7d8e-9f01-23456789abcf';
const occurredAt = '2026-11-21T16:00:00.000Z';
const euros = (cents: number) => ({ cents, currency: 'EUR' });
const lines = [{ productId, quantity: 2 }];

/** One valid payload per event: the test fails when an event is added without an example. */
const examples: { [N in EventName]: EventData<N> } = {
  'product-created': {
    productId,
    sellerId,
    name: 'Kettle',
    price: euros(2999),
    status: 'draft',
    version: 1,
    occurredAt,
  },
  'product-updated': {
    productId,
    sellerId,
    name: 'Kettle',
    price: euros(2499),
    status: 'active',
    version: 2,
    occurredAt,
  },
  'product-archived': { productId, sellerId, reason: 'seller-deleted', version: 3, occurredAt },
  'order-confirmed': {
    orderId,
    userId,
    lines: [{ productId, quantity: 2, unitPrice: euros(2499) }],
    total: euros(4998),
    version: 2,
    occurredAt,
  },
  'order-cancelled': { orderId, userId, lines, reason: 'customer-request', version: 3, occurredAt },
  'order-failed': {
    orderId,
    userId,
    lines,
    reason: 'reservation-timed-out',
    version: 2,
    occurredAt,
  },
  'user-registered': {
    userId,
    email: 'ada@example.com',
    name: 'Ada',
    accountType: 'seller',
    roles: ['customer', 'seller'],
    occurredAt,
  },
  'user-deleted': { userId, roles: ['customer'], occurredAt },
};

describe('events', () => {
  test('lists the eight events of the architecture', () => {
    expect([...eventNames].sort()).toEqual([
      'order-cancelled',
      'order-confirmed',
      'order-failed',
      'product-archived',
      'product-created',
      'product-updated',
      'user-deleted',
      'user-registered',
    ]);
  });

  test.each(eventNames)('%s: the example parses to itself', (name) => {
    expect(events[name].parse(examples[name])).toEqual(examples[name]);
  });
});

describe('parseEvent', () => {
  test('returns the parsed data of a known topic', () => {
    const result = parseEvent('order-cancelled', examples['order-cancelled']);

    expect(result).toEqual({
      ok: true,
      topic: 'order-cancelled',
      data: examples['order-cancelled'],
    });
  });

  test('drops keys the contract does not know, so consumers tolerate additive changes', () => {
    const result = parseEvent('user-deleted', { ...examples['user-deleted'], reason: 'gdpr' });

    expect(result).toEqual({ ok: true, topic: 'user-deleted', data: examples['user-deleted'] });
  });

  test('names an unknown topic', () => {
    expect(parseEvent('order-shipped', {})).toEqual({
      ok: false,
      topic: 'order-shipped',
      error: 'unknown-topic',
    });
    expect(parseEvent('toString', {})).toMatchObject({ ok: false, error: 'unknown-topic' });
  });

  test('reports the invalid fields of bad data', () => {
    const data = {
      ...examples['order-failed'],
      orderId: 'not-a-uuid',
      lines: [{ productId, quantity: 0 }],
    };

    const result = parseEvent('order-failed', data);

    expect(result.ok).toBe(false);
    if (result.ok || result.error !== 'invalid-data') throw new Error('expected invalid-data');
    expect(result.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'lines.0.quantity',
      'orderId',
    ]);
  });

  test.each([
    ['a fractional amount of cents', { price: { cents: 19.99, currency: 'EUR' } }],
    ['a lower-case currency', { price: { cents: 1999, currency: 'eur' } }],
    ['a timestamp without offset', { occurredAt: '2026-11-21T16:00:00' }],
    ['a version of 0', { version: 0 }],
  ])('rejects %s', (_what, change) => {
    const result = parseEvent('product-updated', { ...examples['product-updated'], ...change });

    expect(result).toMatchObject({ ok: false, error: 'invalid-data' });
  });

  test('rejects a reason that is not kebab-case', () => {
    const data = { ...examples['product-archived'], reason: 'Seller deleted' };

    expect(parseEvent('product-archived', data)).toMatchObject({
      ok: false,
      error: 'invalid-data',
    });
  });
});
