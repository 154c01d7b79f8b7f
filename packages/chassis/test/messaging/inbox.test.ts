import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { handleOnce, InboxEvent } from '../../src/messaging/inbox.ts';
import { eventually } from '../../src/testing/index.ts';
import { messagingDatabase } from './support.ts';

let db: Awaited<ReturnType<typeof messagingDatabase>>;
let orm: MikroORM;

beforeAll(async () => {
  db = await messagingDatabase('chassis_inbox');
  orm = db.orm;
  // The effect an event has: a row per application, so double application shows.
  await orm.em.fork().execute('create table effects (event_id text not null)');
});
afterAll(() => db.close());

let counter = 0;
const newEventId = () => `event-${++counter}`;
const applyEffect = (eventId: string) => (em: EntityManager) =>
  em.execute('insert into effects (event_id) values (?)', [eventId]).then(() => undefined);
const effectsOf = async (eventId: string) =>
  (await orm.em.fork().execute('select 1 from effects where event_id = ?', [eventId])).length;
const inboxRows = (eventId: string) => orm.em.fork().count(InboxEvent, { eventId });

describe('handleOnce', () => {
  test('applies a new event and records it; a redelivery is a duplicate and is not applied', async () => {
    const eventId = newEventId();
    let applied = 0;
    const apply = async (em: EntityManager) => {
      applied += 1;
      await applyEffect(eventId)(em);
    };

    const first = await handleOnce(orm.em.fork(), 'orders', eventId, apply);
    const second = await handleOnce(orm.em.fork(), 'orders', eventId, apply);

    expect([first, second]).toEqual(['applied', 'duplicate']);
    expect(applied).toBe(1);
    expect(await effectsOf(eventId)).toBe(1);
    expect(await inboxRows(eventId)).toBe(1);
  });

  test('each consumer applies the same event once', async () => {
    const eventId = newEventId();

    const results = [
      await handleOnce(orm.em.fork(), 'cancel-orders', eventId, applyEffect(eventId)),
      await handleOnce(orm.em.fork(), 'drop-cart', eventId, applyEffect(eventId)),
    ];

    expect(results).toEqual(['applied', 'applied']);
    expect(await effectsOf(eventId)).toBe(2);
  });

  test('when apply fails, its changes and the inbox row roll back, so a retry applies it', async () => {
    const eventId = newEventId();

    const failed = handleOnce(orm.em.fork(), 'orders', eventId, async (em) => {
      await applyEffect(eventId)(em);
      throw new Error('handler failed');
    });
    await expect(failed).rejects.toThrow('handler failed');
    const rowsAfterFailure = [await inboxRows(eventId), await effectsOf(eventId)];
    const retry = await handleOnce(orm.em.fork(), 'orders', eventId, applyEffect(eventId));

    expect(rowsAfterFailure).toEqual([0, 0]);
    expect(retry).toBe('applied');
    expect(await effectsOf(eventId)).toBe(1);
  });

  test('a redelivery to another replica during the first one waits, then is a duplicate', async () => {
    const eventId = newEventId();
    const replica = await db.connect();
    let applied = 0;
    // The first to apply holds its transaction open until the other replica is blocked on the
    // inbox row's primary key: the two deliveries truly overlap.
    const apply = async (em: EntityManager) => {
      applied += 1;
      await eventually('the other delivery to wait on the row lock', async () => {
        const [row] = await orm.em.fork().execute<{ waiting: number }[]>(
          `select count(*)::int as waiting from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return row?.waiting === 1;
      });
      await applyEffect(eventId)(em);
    };

    const results = await Promise.all([
      handleOnce(orm.em.fork(), 'orders', eventId, apply),
      handleOnce(replica.em.fork(), 'orders', eventId, apply),
    ]);

    expect(results.sort()).toEqual(['applied', 'duplicate']);
    expect(applied).toBe(1);
    expect(await effectsOf(eventId)).toBe(1);
    expect(await inboxRows(eventId)).toBe(1);
  });
});
