import type pg from 'pg';

export { ensureSchema } from './broker-schema.ts';

/**
 * Redis Streams, as pubsub.redis uses them, kept in the dev stack's PostgreSQL (docs/dapr-behaviour.md §4.7):
 * one stream per (component, topic) with XADD-like sequence numbers, consumer groups with a
 * last-delivered cursor (XGROUP CREATE … 0: a new group starts at the beginning of the stream)
 * and a pending entries list (XREADGROUP, XACK, XAUTOCLAIM). Replicas sharing a group compete:
 * reading advances the cursor under the group's row lock, so each entry goes to one of them.
 * Acked entries stay in the stream, as in Redis, unless maxLenApprox or streamTTL trims it.
 */

export interface StreamKey {
  component: string;
  topic: string;
}

export interface StreamEntry {
  id: string;
  data: Buffer;
  metadata: Record<string, string>;
  deliveryCount: number;
}

export interface Trim {
  maxLen?: number;
  ttlMs?: number;
}

/** The NOTIFY channel a publish signals on, payload `[component, topic]`. */
export const publishedChannel = 'sidecart_pubsub_published';

export interface NewEntry {
  data: Buffer;
  metadata: Record<string, string>;
}

/**
 * XADD, of one entry or of a bulk publish's entries in one statement (in their order). The stream
 * row's lock serialises publishers of one stream until commit, so sequence numbers become visible
 * in order and a reader's cursor never skips a late commit.
 */
export async function appendEntries(
  pool: pg.Pool,
  stream: StreamKey,
  entries: readonly NewEntry[],
  trim: Trim = {},
): Promise<void> {
  const { rows } = await pool.query<{ stream_id: string; seq: string }>({
    name: 'pubsub.append',
    text: `with s as (
       insert into pubsub_streams (component, topic, last_seq) values ($1, $2, $3)
       on conflict (component, topic) do update set last_seq = pubsub_streams.last_seq + $3
       returning id, last_seq),
     m as (
       insert into pubsub_messages (stream_id, seq, data, metadata)
       select s.id, s.last_seq - $3 + e.n, e.data, e.metadata
       from s, unnest($4::bytea[], $5::jsonb[]) with ordinality as e (data, metadata, n)
       returning stream_id, seq)
     select (select stream_id from m limit 1), (select max(seq) from m) as seq, pg_notify($6, $7)`,
    values: [
      stream.component,
      stream.topic,
      entries.length,
      entries.map((entry) => entry.data),
      entries.map((entry) => JSON.stringify(entry.metadata)),
      publishedChannel,
      JSON.stringify([stream.component, stream.topic]),
    ],
  });
  const { stream_id: streamId, seq } = rows[0]!;
  // The entries are committed: a failed trim must not turn the publish into an error (the caller
  // would publish them again), so it is left for the next publish to catch up.
  await trimStream(pool, streamId, seq, trim).catch(() => {});
}

async function trimStream(pool: pg.Pool, streamId: string, seq: string, trim: Trim) {
  if (trim.maxLen !== undefined && trim.maxLen > 0) {
    await pool.query('delete from pubsub_messages where stream_id = $1 and seq <= $2', [
      streamId,
      (BigInt(seq) - BigInt(trim.maxLen)).toString(),
    ]);
  }
  if (trim.ttlMs !== undefined && trim.ttlMs > 0) {
    await pool.query(
      `delete from pubsub_messages
       where stream_id = $1 and published_at < now() - make_interval(secs => $2)`,
      [streamId, trim.ttlMs / 1000],
    );
  }
}

/** XGROUP CREATE <topic> <group> 0 MKSTREAM (an existing group is kept); returns the group id. */
export async function createGroup(
  pool: pg.Pool,
  stream: StreamKey,
  group: string,
): Promise<string> {
  const params = [stream.component, stream.topic];
  await pool.query(
    `insert into pubsub_streams (component, topic) values ($1, $2) on conflict do nothing`,
    params,
  );
  await pool.query(
    `insert into pubsub_groups (stream_id, name)
     select id, $3 from pubsub_streams where component = $1 and topic = $2
     on conflict (stream_id, name) do nothing`,
    [...params, group],
  );
  const { rows } = await pool.query<{ id: string }>(
    `select g.id from pubsub_groups g join pubsub_streams s on s.id = g.stream_id
     where s.component = $1 and s.topic = $2 and g.name = $3`,
    [...params, group],
  );
  return rows[0]!.id;
}

interface EntryRow {
  id: string;
  data: Buffer;
  metadata: Record<string, string>;
  delivery_count: number;
}

const toEntry = (row: EntryRow): StreamEntry => ({
  id: row.id,
  data: row.data,
  metadata: row.metadata,
  deliveryCount: row.delivery_count,
});

/** XREADGROUP GROUP g c COUNT n STREAMS topic >: new entries, now pending for this consumer. */
export async function readNewEntries(
  pool: pg.Pool,
  groupId: string,
  consumer: string,
  count: number,
): Promise<StreamEntry[]> {
  const { rows } = await pool.query<EntryRow>(
    `with g as (
       select stream_id, last_delivered_seq from pubsub_groups where id = $1 for update),
     picked as (
       select m.id, m.seq, m.data, m.metadata from pubsub_messages m join g using (stream_id)
       where m.seq > g.last_delivered_seq order by m.seq limit $2),
     advanced as (
       update pubsub_groups set last_delivered_seq = (select max(seq) from picked)
       where id = $1 and exists (select 1 from picked)),
     pending as (
       insert into pubsub_pending (group_id, message_id, consumer, delivered_at, delivery_count)
       select $1, id, $3, now(), 1 from picked)
     select id, data, metadata, 1 as delivery_count from picked order by seq`,
    [groupId, count, consumer],
  );
  return rows.map(toEntry);
}

/** XAUTOCLAIM: pending entries idle for at least minIdleMs, handed to this consumer. */
export async function claimIdleEntries(
  pool: pg.Pool,
  groupId: string,
  consumer: string,
  minIdleMs: number,
  count: number,
): Promise<StreamEntry[]> {
  const { rows } = await pool.query<EntryRow>(
    `with due as (
       select message_id from pubsub_pending
       where group_id = $1 and delivered_at <= now() - make_interval(secs => $2)
       order by message_id limit $3 for update skip locked),
     claimed as (
       update pubsub_pending p
       set consumer = $4, delivered_at = now(), delivery_count = p.delivery_count + 1
       from due where p.group_id = $1 and p.message_id = due.message_id
       returning p.message_id, p.delivery_count)
     select m.id, m.data, m.metadata, c.delivery_count
     from claimed c join pubsub_messages m on m.id = c.message_id order by m.seq`,
    [groupId, minIdleMs / 1000, count, consumer],
  );
  return rows.map(toEntry);
}

/** XACK. */
export async function ackEntry(pool: pg.Pool, groupId: string, entryId: string): Promise<void> {
  await pool.query('delete from pubsub_pending where group_id = $1 and message_id = $2', [
    groupId,
    entryId,
  ]);
}
