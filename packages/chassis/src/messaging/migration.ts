import { Migration } from '@mikro-orm/migrations';
import { InboxEvent } from './inbox.ts';
import { OutboxEvent } from './outbox.ts';

/** Add these to a service's ORM entities to use the outbox and the inbox. */
export const messagingEntities = [OutboxEvent, InboxEvent];

// Written by the schema generator from the entities above: a service's `db:migration:create`
// then finds nothing to change in these tables.
class Migration20261121170000Messaging extends Migration {
  override up(): void {
    this.addSql(
      `create table "outbox_events" ("id" uuid not null, "topic" text not null, "data" jsonb not null, "traceparent" text null, "created_at" timestamptz not null, "published_at" timestamptz null, "attempts" int not null default 0, "last_error" text null, "next_attempt_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "outbox_events_unpublished_index" on "outbox_events" ("created_at") where "published_at" is null;`,
    );
    this.addSql(
      `create table "inbox_events" ("consumer" text not null, "event_id" text not null, "handled_at" timestamptz not null, primary key ("consumer", "event_id"));`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "inbox_events";`);
    this.addSql(`drop table if exists "outbox_events";`);
  }
}

/** The migration creating `outbox_events` and `inbox_events`: add it to a service's list. */
export const messagingMigration = Migration20261121170000Messaging;
