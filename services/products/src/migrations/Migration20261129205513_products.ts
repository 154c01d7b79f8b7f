import { Migration } from '@mikro-orm/migrations';

export class Migration20261129205513 extends Migration {
  override name = 'Migration20261129205513';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "products" ("id" uuid not null, "seller_id" uuid not null, "sku" varchar(64) not null, "name" varchar(200) not null, "description" varchar(5000) not null default '', "price_cents" int not null, "currency" varchar(3) not null, "stock" int not null default 0, "status" text not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, "search" tsvector generated always as (to_tsvector('english', name || ' ' || description)) stored null, primary key ("id"));`,
    );
    this.addSql(`create index "products_status_id_index" on "products" ("status", "id");`);
    this.addSql(`create index "products_search_index" on "public"."products" using gin("search");`);
    this.addSql(
      `alter table "products" add constraint "products_seller_id_sku_unique" unique ("seller_id", "sku");`,
    );

    this.addSql(
      `create table "reservations" ("order_id" uuid not null, "status" text not null, "lines" jsonb not null default '[]', "short_lines" jsonb not null default '[]', "created_at" timestamptz not null, "released_at" timestamptz null, primary key ("order_id"));`,
    );

    this.addSql(
      `create table "stock_adjustments" ("id" uuid not null, "product_id" uuid not null, "delta" int not null, "reason" varchar(200) not null, "actor_id" uuid not null, "stock_after" int not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "stock_adjustments_product_id_index" on "stock_adjustments" ("product_id");`,
    );

    this.addSql(
      `alter table "products" add constraint "products_stock_check" check (stock >= 0 and stock <= 1000000000);`,
    );
    this.addSql(
      `alter table "products" add constraint "products_price_cents_check" check (price_cents >= 0 and price_cents <= 1000000000);`,
    );
    this.addSql(
      `alter table "products" add constraint "products_status_check" check ("status" in ('draft', 'active', 'archived'));`,
    );

    this.addSql(
      `alter table "reservations" add constraint "reservations_status_check" check ("status" in ('reserved', 'rejected', 'released', 'voided'));`,
    );

    this.addSql(
      `create or replace function "products_products_notify_change_fn"() returns trigger as $$ begin perform pg_notify('products_changed', old.id::text); return null; end; $$ language plpgsql;`,
    );
    this.addSql(
      `create trigger "products_notify_change" AFTER UPDATE OR DELETE on "products" for each ROW execute function "products_products_notify_change_fn"();`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger if exists "products_notify_change" on "products";`);
    this.addSql(`drop function if exists "products_products_notify_change_fn"();`);
    this.addSql(`drop table if exists "products" cascade;`);
    this.addSql(`drop table if exists "reservations" cascade;`);
    this.addSql(`drop table if exists "stock_adjustments" cascade;`);
  }
}
