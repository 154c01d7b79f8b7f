import type { EntityManager } from '@mikro-orm/postgresql';
import { runPrepared } from '@sidecart/chassis';
import type { ReserveRequest, ReservedLine, ShortLine } from '@sidecart/contracts';
import type { ReservationStatus } from './reservation.entity.ts';

/**
 * The whole reservation as one statement, committed on its own: a hot product's row lock lasts
 * for this statement and its commit, one round trip, instead of a transaction's several.
 *
 * `held` locks the products in id order (two reservations never wait on each other's rows in
 * opposite orders) and, being FOR UPDATE, reads their latest committed stock, not the snapshot's.
 * With those rows held, whether every line can be served is decided once; the reservation row is
 * inserted with that decision, and only a `reserved` row that this statement inserted takes the
 * stock. The primary key decides between concurrent retries of one order: a retry's insert does
 * nothing and takes nothing. A retry whose row is already visible locks nothing at all.
 */
const reserveSql = {
  name: 'products.reserve',
  text: `
with wanted as (
  select product_id, quantity
  from jsonb_to_recordset($1::jsonb) as line(product_id uuid, quantity int)
),
held as (
  select id, stock, status, price_cents, currency
  from products
  where id in (select product_id from wanted)
    and not exists (select 1 from reservations where order_id = $2::uuid)
  order by id
  for update
),
lines as (
  select w.product_id, w.quantity, h.price_cents, h.currency,
         coalesce(h.status = 'active' and h.stock >= w.quantity, false) as is_available,
         case when h.status = 'active' then h.stock else 0 end as available
  from wanted w left join held h on h.id = w.product_id
),
claimed as (
  insert into reservations (order_id, status, lines, short_lines, created_at)
  select $2::uuid,
         case when whole then 'reserved' else 'rejected' end,
         case when whole then taken else '[]' end,
         case when whole then '[]' else short end,
         now()
  from (
    select bool_and(is_available) as whole,
           jsonb_agg(jsonb_build_object('productId', product_id, 'quantity', quantity,
             'priceCents', price_cents, 'currency', currency) order by product_id) as taken,
           coalesce(jsonb_agg(jsonb_build_object('productId', product_id, 'requested', quantity,
             'available', coalesce(available, 0)) order by product_id)
             filter (where not is_available), '[]') as short
    from lines
  ) decision
  on conflict (order_id) do nothing
  returning status, lines, short_lines
),
taken as (
  update products p
  set stock = p.stock - l.quantity, version = p.version + 1, updated_at = now()
  from lines l
  where p.id = l.product_id and (select status from claimed) = 'reserved'
  returning p.id
)
select status, lines, short_lines as "shortLines" from claimed`,
};

/**
 * One line, taken the way the bare conditional UPDATE takes it — no lock before the update, so a
 * hot product's row lock is held no longer than by that UPDATE — and recorded in the same
 * statement. Nothing comes back when the line cannot be taken as asked (short, not active,
 * unknown, or the order already has a visible row): the full statement then decides. A concurrent
 * retry's row makes the insert fail (unique violation): the whole statement, decrement included,
 * is undone.
 */
const reserveOneSql = {
  name: 'products.reserve-one-line',
  text: `
with taken as (
  update products set stock = stock - $1, version = version + 1, updated_at = now()
  where id = $2 and stock >= $1 and status = 'active'
    and not exists (select 1 from reservations where order_id = $3::uuid)
  returning id, price_cents, currency
)
insert into reservations (order_id, status, lines, short_lines, created_at)
select $3::uuid, 'reserved',
       jsonb_build_array(jsonb_build_object('productId', id, 'quantity', $1::int,
         'priceCents', price_cents, 'currency', currency)),
       '[]', now()
from taken
returning status, lines, short_lines as "shortLines"`,
};

export interface ReservationRow {
  status: ReservationStatus;
  lines: ReservedLine[];
  shortLines: ShortLine[];
}

/**
 * The row of a one-line reservation this call took, or undefined when the full statement must
 * decide; throws a unique violation (`isUniqueViolation`) when a concurrent call of the order
 * decided.
 */
export async function reserveOneLine(
  em: EntityManager,
  orderId: string,
  { productId, quantity }: ReserveRequest['lines'][number],
): Promise<ReservationRow | undefined> {
  const [row] = await runPrepared<ReservationRow>(em, reserveOneSql, [
    quantity,
    productId,
    orderId,
  ]);
  return row;
}

/** The row this call inserted (it decided), or undefined when the order had one already. */
export async function insertReservation(
  em: EntityManager,
  request: ReserveRequest,
): Promise<ReservationRow | undefined> {
  const wanted = request.lines.map((line) => ({
    product_id: line.productId,
    quantity: line.quantity,
  }));
  const [row] = await runPrepared<ReservationRow>(em, reserveSql, [
    JSON.stringify(wanted),
    request.orderId,
  ]);
  return row;
}

const reserveBatchSql = {
  name: 'products.reserve-batch',
  text: 'select answer from products_reserve_batch($1::jsonb) as answer',
};

/**
 * Decides several reservations in one statement and one commit, each on its own and in the
 * batch's order (the function `products_reserve_batch`, migration 20261130050000): every row
 * says what its reservation holds, whether this call or an earlier one decided it.
 */
export async function reserveBatch(
  em: EntityManager,
  requests: readonly ReserveRequest[],
): Promise<ReservationRow[]> {
  const rows = await runPrepared<{ answer: ReservationRow }>(em, reserveBatchSql, [
    JSON.stringify(requests),
  ]);
  return rows.map(({ answer }) => answer);
}

/** The order's reservation as it stands (a retry's answer). */
export async function findReservation(
  em: EntityManager,
  orderId: string,
): Promise<ReservationRow | undefined> {
  const [row] = await em.execute<ReservationRow[]>(
    `select status, lines, short_lines as "shortLines" from reservations where order_id = ?`,
    [orderId],
  );
  return row;
}

/** PostgreSQL's unique_violation, as the driver reports it on a prepared statement. */
export const isUniqueViolation = (error: unknown) =>
  (error as { code?: unknown })?.code === '23505';
