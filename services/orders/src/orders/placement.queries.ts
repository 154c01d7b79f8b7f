import type { EntityManager } from '@mikro-orm/postgresql';
import type { OutboxRow } from '@sidecart/chassis';
import type { StoredAnswer } from './idempotency-record.entity.ts';
import type { Order } from './order.entity.ts';

// Placing an order is the hot path of the shop: each of its two writes is one SQL statement (an
// implicit transaction), where the unit of work took a transaction of several round trips each,
// a read back, and change sets to compute (ADR 0014). Everything else about orders goes through
// the unit of work.

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
  const columns = `insert into orders (id, user_id, status, lines, sweep_at, created_at, updated_at, version)`;
  const row = [JSON.stringify(order.lines), order.sweepAt, order.createdAt, order.updatedAt];
  if (!idempotency) {
    await em.execute(`${columns} values (?, ?, 'pending', ?::jsonb, ?, ?, ?, 1)`, [
      order.id,
      order.userId,
      ...row,
    ]);
    return true;
  }
  const inserted = await em.execute(
    `with claimed as (
       insert into idempotency_records (user_id, key, request_hash, order_id, created_at)
       values (?, ?, ?, ?, ?) on conflict (user_id, key) do nothing returning order_id)
     ${columns}
     select order_id, ?::uuid, 'pending', ?::jsonb, ?::timestamptz, ?::timestamptz, ?::timestamptz, 1
     from claimed returning id`,
    [
      order.userId,
      idempotency.key,
      idempotency.hash,
      order.id,
      order.createdAt,
      order.userId,
      ...row,
    ],
  );
  return inserted.length === 1;
}

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
    order.status,
    JSON.stringify(order.lines),
    order.totalCents ?? null,
    order.currency ?? null,
    order.shortLines ? JSON.stringify(order.shortLines) : null,
    order.reason ?? null,
    order.updatedAt,
    order.id,
    fromVersion,
    JSON.stringify(answer),
  ];
  const recorded = event
    ? `, recorded as (
         insert into outbox_events (id, topic, data, traceparent, created_at, next_attempt_at)
         select ?::uuid, ?, ?::jsonb, ?, ?::timestamptz, ?::timestamptz from settled)`
    : '';
  const now = new Date();
  const rows = await em.execute(
    `with settled as (
       update orders set status = ?, lines = ?::jsonb, total_cents = ?, currency = ?,
         short_lines = ?::jsonb, reason = ?, updated_at = ?, version = version + 1
       where id = ? and status = 'pending' and version = ? returning id),
     answered as (
       update idempotency_records set answer = ?::json
       where order_id in (select id from settled))${recorded}
     select id from settled`,
    event
      ? [...settled, event.id, event.topic, JSON.stringify(event.data), event.traceparent, now, now]
      : settled,
  );
  return rows.length === 1;
}
