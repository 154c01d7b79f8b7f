import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { messagingMigration, rateLimitMigrations } from '@sidecart/chassis';
import { Migration20261129205825 } from './Migration20261129205825_orders.ts';

/** Every migration, oldest first: `npm run db:migration:create` writes a file; add it here. */
export const migrations: Constructor<Migration>[] = [
  // outbox_events and inbox_events, from the chassis
  messagingMigration,
  Migration20261129205825,
  // rate_limits, from the chassis: order placement per user
  ...rateLimitMigrations,
];
