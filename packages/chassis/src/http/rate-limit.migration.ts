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

// Counters are not worth a WAL record and a disk flush per request: an unlogged table's commits
// wait for no flush (the checkout's limit point was one of its three synchronous commits). A
// crash empties it, which forgives every client once; a standby has no copy, so after a failover
// counting starts again. A migration of its own, for databases made before it.
class Migration20261201000001RateLimitsUnlogged extends Migration {
  override up(): void {
    this.addSql(`alter table "${rateLimitTable}" set unlogged;`);
  }

  override down(): void {
    this.addSql(`alter table "${rateLimitTable}" set logged;`);
  }
}

/** The migrations of the `rate_limits` table createRateLimits counts in: add them to a service's list. */
export const rateLimitMigrations = [
  Migration20261201000000RateLimits,
  Migration20261201000001RateLimitsUnlogged,
];
