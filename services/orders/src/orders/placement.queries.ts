import type { EntityManager } from '@mikro-orm/postgresql';
import { runPrepared, type OutboxRow } from '@sidecart/chassis';
import type { StoredAnswer } from './idempotency-record.entity.ts';
import type { Order } from './order.entity.ts';

// Placing an order is the hot path of the shop: each of its two writes is one SQL statement (an
// implicit transaction), where the unit of work took a transaction of several round trips each,
// a read back, and change sets to compute (ADR 0014), and each is prepared once per connection
// (ADR 0016). Everything else about orders goes through the unit of work.

/**
 * Inserts a new pending order and, with an Idempotency-Key, the key's record first, in one
 * statement: false (and no order) when the user's key is taken. A concurrent twin's insert waits
 * on the key's unique index until this statement commits, then inserts nothing.
 */
export async function insertPendingOrder(
  em: EntityManager,
  order: Order,
  idempotency?: { key: string; hash: string },
): Promise<boolean> {
  const row = [order.id, order.userId, JSON.stringify(order.lines), order.sweepAt, order.createdAt];
  if (!idempotency) {
    await runPrepared(em, insertOrder, row);
    return true;
  }
  const inserted = await runPrepared(em, insertKeyedOrder, [
    ...row,
    idempotency.key,
    idempotency.hash,
  ]);
  return inserted.length === 1;
}

const insertColumns = `insert into orders (id, user_id, status, lines, sweep_at, created_at, updated_at, version)`;
const insertValues = `$1::uuid, $2::uuid, 'pending', $3::jsonb, $4::timestamptz, $5::timestamptz, $5, 1`;
const insertOrder = {
  name: 'orders.insert-pending',
  text: `${insertColumns} values (${insertValues})`,
};
const insertKeyedOrder = {
  name: 'orders.insert-pending-keyed',
  text: `with claimed as (
       insert into idempotency_records (user_id, key, request_hash, order_id, created_at)
       values ($2, $6, $7, $1, $5) on conflict (user_id, key) do nothing returning order_id)
     ${insertColumns} select ${insertValues} from claimed returning id`,
};

/**
 * Writes the outcome of a pending order's reservation — the order, its key's answer, its event —
 * in one statement, if the order is still pending at `fromVersion` (nothing else touched it since
 * it was read or created). False when it was: the caller takes the locking path instead.
 */
export async function settleUntouchedOrder(
  em: EntityManager,
  order: Order,
  fromVersion: number,
  answer: StoredAnswer,
  event: OutboxRow | undefined,
): Promise<boolean> {
  const settled = [
    order.id,
    fromVersion,
    order.status,
    JSON.stringify(order.lines),
    order.totalCents ?? null,
    order.currency ?? null,
    order.shortLines ? JSON.stringify(order.shortLines) : null,
    order.reason ?? null,
    order.updatedAt,
    JSON.stringify(answer),
  ];
  const rows = event
    ? await runPrepared(em, settleWithEvent, [
        ...settled,
        event.id,
        event.topic,
        JSON.stringify(event.data),
        event.traceparent,
      ])
    : await runPrepared(em, settle, settled);
  return rows.length === 1;
}

const settleText = (recorded: string) => `with settled as (
       update orders set status = $3, lines = $4::jsonb, total_cents = $5, currency = $6,
         short_lines = $7::jsonb, reason = $8, updated_at = $9, version = version + 1
       where id = $1 and status = 'pending' and version = $2 returning id),
     answered as (
       update idempotency_records set answer = $10::json
       where order_id in (select id from settled))${recorded}
     select id from settled`;
const settle = { name: 'orders.settle', text: settleText('') };
const settleWithEvent = {
  name: 'orders.settle-with-event',
  text: settleText(`, recorded as (
         insert into outbox_events (id, topic, data, traceparent, created_at, next_attempt_at)
         select $11::uuid, $12, $13::jsonb, $14, now(), now() from settled)`),
};
