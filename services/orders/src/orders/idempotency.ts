import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { unprocessable } from '@sidecart/chassis';
import { IdempotencyRecord } from './idempotency-record.entity.ts';

/** Two requests are the same if they went to the same route with the same normalised body. */
export const requestHash = (route: string, body: unknown) =>
  createHash('sha256')
    .update(JSON.stringify([route, body]))
    .digest('hex');

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
