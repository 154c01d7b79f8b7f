import { Migration } from '@mikro-orm/migrations';

/**
 * `products_reserve_batch`: the reservations that queued in one replica while its last
 * reservation statement ran, decided in one statement and one commit (ADR 0016, addendum;
 * reservations/reserve-batch.routine.ts says what it does). The SQL is MikroORM's for that
 * routine, as `db:migration:create` writes it.
 */
export class Migration20261130050000 extends Migration {
  override name = 'Migration20261130050000';

  override up(): void | Promise<void> {
    this
      .addSql(`create or replace function "products_reserve_batch"("requests" jsonb) returns setof jsonb language plpgsql as $$ begin
  declare
    held jsonb;     decided jsonb;     request jsonb;     wanted jsonb;     line jsonb;     order_key text;     product_key text;     product jsonb;     available int;     whole boolean;     taken jsonb;     short jsonb;     answer jsonb;     answers jsonb := '[]';     fresh jsonb := '[]';   begin
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
    ) p;     select coalesce(jsonb_object_agg(r.order_id, jsonb_build_object('status', r.status,
             'lines', r.lines, 'shortLines', r.short_lines)), '{}')
    into decided
    from reservations r
    where r.order_id = any(array(
      select (value ->> 'orderId')::uuid from jsonb_array_elements(requests)));     for request in select value from jsonb_array_elements(requests) loop
      order_key := (request ->> 'orderId')::uuid::text;       answer := decided -> order_key;       if answer is null then
        whole := true;         taken := '[]';         short := '[]';         wanted := request -> 'lines';         if jsonb_array_length(wanted) > 1 then
          select jsonb_agg(value order by (value ->> 'productId')::uuid) into wanted
          from jsonb_array_elements(request -> 'lines');         end if;         for k in 0 .. jsonb_array_length(wanted) - 1 loop
          line := wanted -> k;           product_key := (line ->> 'productId')::uuid::text;           product := held -> product_key;           available := case when (product ->> 'active')::boolean
                            then (product ->> 'stock')::int else 0 end;           if available >= (line ->> 'quantity')::int then
            taken := taken || jsonb_build_object('productId', product_key,
              'quantity', (line ->> 'quantity')::int, 'priceCents', product -> 'priceCents',
              'currency', product -> 'currency');           else
            whole := false;             short := short || jsonb_build_object('productId', product_key,
              'requested', (line ->> 'quantity')::int, 'available', coalesce(available, 0));           end if;         end loop;         if whole then
          for k in 0 .. jsonb_array_length(taken) - 1 loop
            line := taken -> k;             held := jsonb_set(held, array[line ->> 'productId', 'stock'],
              to_jsonb((held -> (line ->> 'productId') ->> 'stock')::int
                - (line ->> 'quantity')::int));           end loop;           answer := jsonb_build_object('status', 'reserved', 'lines', taken, 'shortLines', '[]'::jsonb);         else
          answer := jsonb_build_object('status', 'rejected', 'lines', '[]'::jsonb, 'shortLines', short);         end if;         decided := decided || jsonb_build_object(order_key, answer);         fresh := fresh || jsonb_build_array(answer || jsonb_build_object('orderId', order_key));       end if;       answers := answers || jsonb_build_array(answer);     end loop;     insert into reservations (order_id, status, lines, short_lines, created_at)
    select (f ->> 'orderId')::uuid, f ->> 'status', f -> 'lines', f -> 'shortLines', now()
    from jsonb_array_elements(fresh) as f;     update products p
    set stock = (held -> p.id::text ->> 'stock')::int, version = p.version + 1, updated_at = now()
    where p.id = any(array(
      select (l ->> 'productId')::uuid
      from jsonb_array_elements(fresh) as f, jsonb_array_elements(f -> 'lines') as l
      where f ->> 'status' = 'reserved'));     return query
    select a from jsonb_array_elements(answers) with ordinality as x(a, n) order by n;   end; end $$;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop function if exists "products_reserve_batch"(jsonb);`);
  }
}
