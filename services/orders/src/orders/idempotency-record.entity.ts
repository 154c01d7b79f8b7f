import { defineEntity, p } from '@mikro-orm/core';

/** The answer first given to a request, replayed to its repeats. */
export interface StoredAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export const IdempotencyRecordSchema = defineEntity({
  name: 'IdempotencyRecord',
  tableName: 'idempotency_records',
  properties: {
    // Keys are the client's: two users may pick the same one.
    userId: p.uuid().primary(),
    key: p.string().length(255).primary(),
    /** sha256 of the route and the normalised body: the same key with another body is a 422. */
    requestHash: p.string().length(64),
    orderId: p.uuid().index(),
    /**
     * Null while the first request is still settling its order. `json`, not `jsonb`: jsonb
     * reorders keys, and a replay must be the same bytes as the first answer.
     */
    answer: p.json<StoredAnswer>().columnType('json').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

/** One Idempotency-Key of one user: the order it placed and, once settled, the answer. */
export class IdempotencyRecord extends IdempotencyRecordSchema.class {}
IdempotencyRecordSchema.setClass(IdempotencyRecord);
