import { Routine } from '@mikro-orm/core';

/**
 * `products_reserve_batch(requests)`: the reservations that queued in one replica while its last
 * reservation statement ran, decided in one statement and one commit (ADR 0016, addendum)
 * instead of a round trip and a commit each. `requests` is a JSON array of reserve requests
 * (`{orderId, lines: [{productId, quantity}]}`); one answer comes back per request, in its order.
 *
 * 1. Every product of the batch is locked, in id order, and read once: two batches — or a batch
 *    and a single reservation, which locks its lines in the same order — never wait on each
 *    other's rows in opposite orders. Then the orders' rows are read: those that committed while
 *    the batch waited for its locks count too.
 * 2. Each reservation is decided on its own, in the batch's order, against the stock the ones
 *    before it left, by the single statement's rules (reservations.queries.ts): all lines or
 *    none, with the price snapshot, lines in product-id order. An order that already has a row (a
 *    retry, a release that came first, the same order earlier in this batch) takes nothing and
 *    answers that row.
 * 3. The new rows are inserted in one statement, and each product that gave stock is set to what
 *    the batch left of it (its row is still locked) in one update.
 *    A row inserted meanwhile for one of these orders (a release voiding it) makes the insert
 *    fail: nothing of the batch stays, and the caller decides each reservation alone.
 *
 * Rows are found by `= any(array(…))`: the planner looks each up by its key however large
 * `reservations` grows (an `in (…)` or a `not exists` over the JSON was planned as a scan of the
 * whole table).
 *
 * Declared to MikroORM so the schema diff knows it (`db:migration:create` finds nothing to do);
 * migration 20261130050000 creates it. No comments inside the body: MikroORM joins its lines.
 */
export const reserveBatchRoutine = new Routine({
  name: 'products_reserve_batch',
  type: 'function',
  language: 'plpgsql',
  params: { requests: { type: 'jsonb' } },
  returns: { runtimeType: 'object', columnType: 'setof jsonb' },
  body: `begin
  declare
    held jsonb;
    decided jsonb;
    request jsonb;
    wanted jsonb;
    line jsonb;
    order_key text;
    product_key text;
    product jsonb;
    available int;
    whole boolean;
    taken jsonb;
    short jsonb;
    answer jsonb;
    answers jsonb := '[]';
    fresh jsonb := '[]';
  begin
    select coalesce(jsonb_object_agg(p.id, jsonb_build_object('stock', p.stock,
             'active', p.status = 'active', 'priceCents', p.price_cents, 'currency', p.currency)), '{}')
    into held
    from (
      select id, stock, status, price_cents, currency from products
      where id = any(array(
        select (l.line ->> 'productId')::uuid
        from jsonb_array_elements(requests) as r(request),
             jsonb_array_elements(r.request -> 'lines') as l(line)))
      order by id
      for update
    ) p;
    select coalesce(jsonb_object_agg(r.order_id, jsonb_build_object('status', r.status,
             'lines', r.lines, 'shortLines', r.short_lines)), '{}')
    into decided
    from reservations r
    where r.order_id = any(array(
      select (value ->> 'orderId')::uuid from jsonb_array_elements(requests)));
    for request in select value from jsonb_array_elements(requests) loop
      order_key := (request ->> 'orderId')::uuid::text;
      answer := decided -> order_key;
      if answer is null then
        whole := true;
        taken := '[]';
        short := '[]';
        wanted := request -> 'lines';
        if jsonb_array_length(wanted) > 1 then
          select jsonb_agg(value order by (value ->> 'productId')::uuid) into wanted
          from jsonb_array_elements(request -> 'lines');
        end if;
        for k in 0 .. jsonb_array_length(wanted) - 1 loop
          line := wanted -> k;
          product_key := (line ->> 'productId')::uuid::text;
          product := held -> product_key;
          available := case when (product ->> 'active')::boolean
                            then (product ->> 'stock')::int else 0 end;
          if available >= (line ->> 'quantity')::int then
            taken := taken || jsonb_build_object('productId', product_key,
              'quantity', (line ->> 'quantity')::int, 'priceCents', product -> 'priceCents',
              'currency', product -> 'currency');
          else
            whole := false;
            short := short || jsonb_build_object('productId', product_key,
              'requested', (line ->> 'quantity')::int, 'available', coalesce(available, 0));
          end if;
        end loop;
        if whole then
          for k in 0 .. jsonb_array_length(taken) - 1 loop
            line := taken -> k;
            held := jsonb_set(held, array[line ->> 'productId', 'stock'],
              to_jsonb((held -> (line ->> 'productId') ->> 'stock')::int
                - (line ->> 'quantity')::int));
          end loop;
          answer := jsonb_build_object('status', 'reserved', 'lines', taken, 'shortLines', '[]'::jsonb);
        else
          answer := jsonb_build_object('status', 'rejected', 'lines', '[]'::jsonb, 'shortLines', short);
        end if;
        decided := decided || jsonb_build_object(order_key, answer);
        fresh := fresh || jsonb_build_array(answer || jsonb_build_object('orderId', order_key));
      end if;
      answers := answers || jsonb_build_array(answer);
    end loop;
    insert into reservations (order_id, status, lines, short_lines, created_at)
    select (f ->> 'orderId')::uuid, f ->> 'status', f -> 'lines', f -> 'shortLines', now()
    from jsonb_array_elements(fresh) as f;
    update products p
    set stock = (held -> p.id::text ->> 'stock')::int, version = p.version + 1, updated_at = now()
    where p.id = any(array(
      select (l ->> 'productId')::uuid
      from jsonb_array_elements(fresh) as f, jsonb_array_elements(f -> 'lines') as l
      where f ->> 'status' = 'reserved'));
    return query
    select a from jsonb_array_elements(answers) with ordinality as x(a, n) order by n;
  end;
end`,
});
