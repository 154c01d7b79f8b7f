import { Migration } from '@mikro-orm/migrations';

/**
 * Stock moves are no longer announced on `products_changed`: a flash sale made every reservation
 * a notification to every replica, and notifying commits queue behind one lock. Replicas refresh
 * a cached product's stock on their own within the read cache's refresh window (ADR 0011).
 * Reservations, releases and stock adjustments change nothing but stock, version and updated_at.
 */
export class Migration20261130030000 extends Migration {
  override name = 'Migration20261130030000';

  override up(): void | Promise<void> {
    this.addSql(`drop trigger if exists "products_notify_change" on "products";`);
    this.addSql(
      `create or replace function "products_products_notify_change_fn"() returns trigger as $$ begin perform pg_notify('products_changed', old.id::text); return null; end; $$ language plpgsql;`,
    );
    this.addSql(
      `create trigger "products_notify_change" AFTER UPDATE on "products" for each ROW when ((old.stock = new.stock)) execute function "products_products_notify_change_fn"();`,
    );
    this.addSql(
      `create or replace function "products_products_notify_delete_fn"() returns trigger as $$ begin perform pg_notify('products_changed', old.id::text); return null; end; $$ language plpgsql;`,
    );
    this.addSql(
      `create trigger "products_notify_delete" AFTER DELETE on "products" for each ROW execute function "products_products_notify_delete_fn"();`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger if exists "products_notify_delete" on "products";`);
    this.addSql(`drop function if exists "products_products_notify_delete_fn"();`);
    this.addSql(`drop trigger if exists "products_notify_change" on "products";`);
    this.addSql(
      `create trigger "products_notify_change" AFTER UPDATE OR DELETE on "products" for each ROW execute function "products_products_notify_change_fn"();`,
    );
  }
}
