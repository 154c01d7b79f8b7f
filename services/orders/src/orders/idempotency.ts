import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { unprocessable } from '@sidecart/chassis';
import { v7 as uuidv7 } from 'uuid';
import { IdempotencyRecord } from './idempotency-record.entity.ts';
import { Order, type OrderLine } from './order.entity.ts';

/** Two requests are the same if they went to the same route with the same normalised body. */
export const requestHash = (route: string, body: unknown) =>
  createHash('sha256')
    .update(JSON.stringify([route, body]))
    .digest('hex');

export interface NewOrder {
  userId: string;
  lines: OrderLine[];
  sweepAfterMs: number;
}

/** Stores a pending order; with a key, also the key's record, in the same transaction. */
export type Claim =
  { kind: 'created'; orderId: string } | { kind: 'taken'; record: IdempotencyRecord };

export function createPendingOrder(
  em: EntityManager,
  order: NewOrder,
  idempotency?: { key: string; hash: string },
): Promise<Claim> {
  return em.fork().transactional(async (tx) => {
    const orderId = uuidv7();
    if (idempotency) {
      // A concurrent twin's insert waits here for this transaction, then finds the record taken.
      const { affectedRows } = await tx
        .createQueryBuilder(IdempotencyRecord)
        .insert({
          userId: order.userId,
          key: idempotency.key,
          requestHash: idempotency.hash,
          orderId,
          createdAt: new Date(),
        })
        .onConflict(['userId', 'key'])
        .ignore()
        .execute('run');
      if (affectedRows === 0) {
        const record = await tx.findOneOrFail(IdempotencyRecord, {
          userId: order.userId,
          key: idempotency.key,
        });
        return { kind: 'taken', record };
      }
    }
    const now = Date.now();
    tx.create(Order, {
      id: orderId,
      userId: order.userId,
      lines: order.lines,
      sweepAt: new Date(now + order.sweepAfterMs),
    });
    return { kind: 'created', orderId };
  });
}

export function findRecord(em: EntityManager, userId: string, key: string) {
  return em.fork().findOne(IdempotencyRecord, { userId, key });
}

/** The same key with another body is a client error: it would otherwise silently get the wrong order. */
export function requireSameRequest(record: IdempotencyRecord, hash: string): void {
  if (record.requestHash !== hash) {
    throw unprocessable(
      'idempotency-key-reused',
      'This Idempotency-Key was used for a different request',
    );
  }
}
