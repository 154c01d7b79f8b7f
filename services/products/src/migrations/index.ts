import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { messagingMigration, rateLimitMigrations } from '@sidecart/chassis';
import { Migration20261129205513 } from './Migration20261129205513_products.ts';

/** Every migration, oldest first: `npm run db:migration:create` writes a file; add it here. */
export const migrations: Constructor<Migration>[] = [
  Migration20261129205513,
  // outbox_events and inbox_events, from the chassis
  messagingMigration,
  // rate_limits, from the chassis
  ...rateLimitMigrations,
];
