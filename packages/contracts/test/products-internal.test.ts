import { describe, expect, test } from '@jest/globals';
import { lookupRequest, reserveRequest, reserveResponse } from '../src/index.ts';

const orderId = '2b1e4a7c-3d5f-4e6a-8b9c-0d1e2f3a4b5c';
const productId = '0192f3a4-5b6c-7d8e-9f01-23456789abcd';

describe('products internal calls', () => {
  test('a reservation names each product once', () => {
    const line = { productId, quantity: 1 };

    const twice = reserveRequest.safeParse({ orderId, lines: [line, line] });
    const once = reserveRequest.safeParse({ orderId, lines: [line] });

    expect(twice.success).toBe(false);
    expect(once.success).toBe(true);
  });

  test('a reservation refuses empty, zero and fractional lines', () => {
    for (const lines of [[], [{ productId, quantity: 0 }], [{ productId, quantity: 1.5 }]]) {
      expect(reserveRequest.safeParse({ orderId, lines }).success).toBe(false);
    }
  });

  test('an answer is either reserved lines with prices or short lines', () => {
    const reserved = {
      status: 'reserved',
      orderId,
      lines: [{ productId, quantity: 2, priceCents: 999, currency: 'EUR' }],
    };
    const rejected = {
      status: 'rejected',
      orderId,
      shortLines: [{ productId, requested: 2, available: 1 }],
    };

    expect(reserveResponse.parse(reserved)).toEqual(reserved);
    expect(reserveResponse.parse(rejected)).toEqual(rejected);
    expect(reserveResponse.safeParse({ status: 'reserved', orderId, shortLines: [] }).success).toBe(
      false,
    );
  });

  test('a lookup names each id once', () => {
    expect(lookupRequest.safeParse({ ids: [productId, productId] }).success).toBe(false);
    expect(lookupRequest.safeParse({ ids: [productId] }).success).toBe(true);
  });
});
