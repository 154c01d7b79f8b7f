import type pg from 'pg';

/** The broker's tables (see broker.ts); `if not exists`, so every sidecar may run it. */
const schema = `
  create table if not exists pubsub_streams (
    id bigserial primary key,
    component text not null,
    topic text not null,
    last_seq bigint not null default 0,
    unique (component, topic));
  create table if not exists pubsub_messages (
    id bigserial primary key,
    stream_id bigint not null references pubsub_streams (id),
    seq bigint not null,
    data bytea not null,
    metadata jsonb not null,
    published_at timestamptz not null default now(),
    unique (stream_id, seq));
  create table if not exists pubsub_groups (
    id bigserial primary key,
    stream_id bigint not null references pubsub_streams (id),
    name text not null,
    last_delivered_seq bigint not null default 0,
    created_at timestamptz not null default now(),
    unique (stream_id, name));
  create table if not exists pubsub_pending (
    group_id bigint not null references pubsub_groups (id),
    message_id bigint not null references pubsub_messages (id) on delete cascade,
    consumer text not null,
    delivered_at timestamptz not null,
    delivery_count integer not null,
    primary key (group_id, message_id));
  create index if not exists pubsub_pending_idle on pubsub_pending (group_id, delivered_at);`;

/** Creates the tables once per database; the advisory lock keeps concurrent sidecars apart. */
export async function ensureSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`select pg_advisory_xact_lock(hashtext('sidecart.pubsub.schema'))`);
    await client.query(schema);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
