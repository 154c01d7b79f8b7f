import { Migration } from '@mikro-orm/migrations';

/** Where rate-limit counters live: rate-limiter-flexible's own PostgreSQL layout. */
export const rateLimitTable = 'rate_limits';

// Created by a migration, not by the library at start-up: migrations run once, under the
// migration lock, before any replica serves, so replicas starting together never race on DDL.
class Migration20261201000000RateLimits extends Migration {
  override up(): void {
    this.addSql(
      `create table "${rateLimitTable}" ("key" varchar(255) primary key, "points" integer not null default 0, "expire" bigint);`,
    );
    this.addSql(`create index "${rateLimitTable}_expire_index" on "${rateLimitTable}" ("expire");`);
  }

  override down(): void {
    this.addSql(`drop table if exists "${rateLimitTable}";`);
  }
}

/** The migration creating the `rate_limits` table createRateLimits counts in: add it to a service's list. */
export const rateLimitMigration = Migration20261201000000RateLimits;
