import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
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

/** The outcome of a pending order's reservation, to be written if nobody touched the order. */
export interface Settlement {
  /** Settled in memory, at `fromVersion + 1`. */
  order: Order;
  /** The version it was created (or read) at. */
  fromVersion: number;
  answer: StoredAnswer;
  event?: OutboxRow;
}

/**
 * Writes outcomes of pending orders — each order, its key's answer, its event — in one statement
 * for all settlements of one tick (the answers of one reservation batch come back together, ADR
 * 0016). Each is written only if its order is still pending at `fromVersion` (nothing touched it
 * since it was created): the promise says whether it was; when not, the caller takes the locking
 * path. One statement, so a batch is written whole or not at all.
 */
export function untouchedSettlements(
  em: EntityManager,
): (settlement: Settlement) => Promise<boolean> {
  const loader = new DataLoader<Settlement, boolean>(
    async (batch) => {
      const rows = await runPrepared<{ id: string }>(em, settleMany, settlementColumns(batch));
      const settled = new Set(rows.map((row) => row.id));
      return batch.map(({ order }) => settled.has(order.id));
    },
    { cache: false, maxBatchSize: 64 },
  );
  return (settlement) => loader.load(settlement);
}

/** One array per column: the statement unnests them into rows. */
function settlementColumns(batch: readonly Settlement[]): unknown[][] {
  const column = (value: (settlement: Settlement) => unknown) => batch.map(value);
  const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  return [
    column(({ order }) => order.id),
    column(({ fromVersion }) => fromVersion),
    column(({ order }) => order.status),
    column(({ order }) => json(order.lines)),
    column(({ order }) => order.totalCents ?? null),
    column(({ order }) => order.currency ?? null),
    column(({ order }) => json(order.shortLines)),
    column(({ order }) => order.reason ?? null),
    column(({ order }) => order.updatedAt),
    // `json`, not `jsonb`: a repeat replays the answer byte for byte.
    column(({ answer }) => JSON.stringify(answer)),
    column(({ event }) => event?.id ?? null),
    column(({ event }) => event?.topic ?? null),
    column(({ event }) => json(event?.data)),
    column(({ event }) => event?.traceparent ?? null),
  ];
}

const settleMany = {
  name: 'orders.settle-many',
  text: `with outcome as (
       select * from unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::int[], $6::text[],
         $7::jsonb[], $8::text[], $9::timestamptz[], $10::json[], $11::uuid[], $12::text[],
         $13::jsonb[], $14::text[])
       as o (id, from_version, status, lines, total_cents, currency, short_lines, reason,
         updated_at, answer, event_id, topic, data, traceparent)),
     settled as (
       update orders set status = o.status, lines = o.lines, total_cents = o.total_cents,
         currency = o.currency, short_lines = o.short_lines, reason = o.reason,
         updated_at = o.updated_at, version = orders.version + 1
       from outcome o
       where orders.id = o.id and orders.status = 'pending' and orders.version = o.from_version
       returning orders.id),
     answered as (
       update idempotency_records set answer = o.answer
       from outcome o where order_id = o.id and o.id in (select id from settled)),
     recorded as (
       insert into outbox_events (id, topic, data, traceparent, created_at, next_attempt_at)
       select o.event_id, o.topic, o.data, o.traceparent, now(), now()
       from outcome o where o.event_id is not null and o.id in (select id from settled))
     select id from settled`,
};
