import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { messagingMigration, rateLimitMigrations } from '@sidecart/chassis';
import { Migration20261121154624 } from './Migration20261121154624_users.ts';

/** Every migration, oldest first: `npm run db:migration:create` writes a file; add it here. */
export const migrations: Constructor<Migration>[] = [
  Migration20261121154624,
  // outbox_events and inbox_events, from the chassis
  messagingMigration,
  // rate_limits, from the chassis: login, register and refresh limits
  ...rateLimitMigrations,
];
