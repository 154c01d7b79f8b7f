import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { messagingMigration, rateLimitMigrations } from '@sidecart/chassis';
import { Migration20261129205513 } from './Migration20261129205513_products.ts';
import { Migration20261130030000 } from './Migration20261130030000_quiet_stock_moves.ts';
import { Migration20261130050000 } from './Migration20261130050000_reservation_batches.ts';

/** Every migration, oldest first: `npm run db:migration:create` writes a file; add it here. */
export const migrations: Constructor<Migration>[] = [
  Migration20261129205513,
  // outbox_events and inbox_events, from the chassis
  messagingMigration,
  // rate_limits, from the chassis
  ...rateLimitMigrations,
  Migration20261130030000,
  Migration20261130050000,
];
