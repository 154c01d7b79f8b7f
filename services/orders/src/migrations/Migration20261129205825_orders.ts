import { Migration } from '@mikro-orm/migrations';

export class Migration20261129205825 extends Migration {
  override name = 'Migration20261129205825';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "idempotency_records" ("user_id" uuid not null, "key" varchar(255) not null, "request_hash" varchar(64) not null, "order_id" uuid not null, "answer" json null, "created_at" timestamptz not null, primary key ("user_id", "key"));`,
    );
    this.addSql(
      `create index "idempotency_records_order_id_index" on "idempotency_records" ("order_id");`,
    );

    this.addSql(
      `create table "orders" ("id" uuid not null, "user_id" uuid not null, "status" text not null default 'pending', "lines" jsonb not null, "total_cents" int null, "currency" varchar(3) null, "short_lines" jsonb null, "reason" varchar(64) null, "cancel_on_settle" varchar(64) null, "sweep_at" timestamptz not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, primary key ("id"));`,
    );
    this.addSql(`create index "orders_user_id_index" on "orders" ("user_id", "id");`);
    this.addSql(`create index "orders_status_index" on "orders" ("status", "id");`);
    this.addSql(
      `create index "orders_pending_index" on "orders" ("sweep_at") where "status" = 'pending';`,
    );

    this.addSql(
      `alter table "orders" add constraint "orders_status_check" check ("status" in ('pending', 'confirmed', 'shipped', 'delivered', 'cancelled', 'rejected', 'failed'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "idempotency_records" cascade;`);
    this.addSql(`drop table if exists "orders" cascade;`);
  }
}
