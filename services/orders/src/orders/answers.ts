import { AppError, conflict, etagOf, unprocessable } from '@sidecart/chassis';
import type { StoredAnswer } from './idempotency-record.entity.ts';
import { toOrderDto } from './order.dto.ts';
import type { Order } from './order.entity.ts';

/**
 * What placing `order` answers once it is settled. Failures are stored as the problem they throw,
 * so a replay goes through the same error translator and comes out byte for byte the same.
 */
export function answerOf(order: Order): StoredAnswer {
  if (order.status === 'rejected') {
    const error = conflict('insufficient-stock', 'Some products do not have enough stock', {
      extensions: { orderId: order.id, shortLines: order.shortLines ?? [] },
    });
    return problemAnswer(error);
  }
  if (order.status === 'failed') {
    const error =
      order.reason === 'mixed-currencies'
        ? unprocessable('mixed-currencies', 'One order can only hold products of one currency', {
            extensions: { orderId: order.id },
          })
        : conflict('order-failed', `The order failed: ${order.reason}`, {
            extensions: { orderId: order.id, reason: order.reason },
          });
    return problemAnswer(error);
  }
  return {
    status: 201,
    body: toOrderDto(order),
    headers: { location: `/api/orders/${order.id}`, etag: etagOf(order.version) },
  };
}

function problemAnswer(error: AppError): StoredAnswer {
  return {
    status: error.status,
    body: { code: error.code, detail: error.message, extensions: error.extensions ?? {} },
    headers: {},
  };
}

/** Turns a stored problem back into the error it was, for the translator. */
export function replayedError(answer: StoredAnswer): AppError | undefined {
  if (answer.status < 400) return undefined;
  const { code, detail, extensions } = answer.body as {
    code: string;
    detail: string;
    extensions: Record<string, unknown>;
  };
  return new AppError(answer.status, code, detail, { extensions });
}
