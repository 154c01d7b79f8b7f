import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { defineEntity, p } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import pg from 'pg';
import { createOrm, migrate, ormRequestContext, type MikroORM } from '../src/orm/orm.ts';
import { createTestDatabase, silentLogger } from '../src/testing/index.ts';
import { startApp, type AppUnderTest } from './support.ts';

const Counter = defineEntity({
  name: 'Counter',
  tableName: 'counters',
  properties: { id: p.integer().primary(), hits: p.integer() },
});

class Migration20260101000000Counters extends Migration {
  override up(): void {
    this.addSql(`create table "counters" ("id" int primary key, "hits" int not null);`);
    this.addSql(`insert into "counters" values (1, 0);`);
  }
}

let databaseName: string;
let orm: MikroORM;
let app: AppUnderTest;
let admin: pg.Client;
beforeAll(async () => {
  const databaseUrl = await createTestDatabase('chassis_connection_loss');
  databaseName = new URL(databaseUrl).pathname.slice(1);
  orm = await createOrm({
    databaseUrl,
    entities: [Counter],
    migrations: [Migration20260101000000Counters],
    logger: silentLogger(),
    poolSize: 4,
  });
  await migrate(orm);
  const router = new Router()
    .get('/counter', async (ctx) => {
      ctx.body = await orm.em.findOneOrFail(Counter, { id: 1 });
    })
    .post('/counter', async (ctx) => {
      ctx.body = await orm.em.transactional(async (tx) => {
        const counter = await tx.findOneOrFail(Counter, { id: 1 });
        counter.hits += 1;
        return counter;
      });
    });
  app = await startApp({ routers: [router], middleware: [ormRequestContext(orm)] });
  admin = new pg.Client({ connectionString: process.env.SIDECART_TEST_DATABASE_URL });
  await admin.connect();
});
afterAll(async () => {
  await app.close();
  await orm.close();
  await admin.end();
});

/** Ends every server process serving the app's database, as an operator or a failover would. */
async function terminateAppConnections(): Promise<number> {
  const { rows } = await admin.query(
    `select pg_terminate_backend(pid) as ended from pg_stat_activity
      where datname = $1 and pid <> pg_backend_pid()`,
    [databaseName],
  );
  return rows.filter((row) => row.ended).length;
}

/** Alternating reads and transactional writes; a request that hangs (5 s) counts as status 0. */
async function traffic(requests: number, concurrency: number) {
  const statuses: number[] = [];
  const failures: unknown[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const method = next++ % 2 === 0 ? 'GET' : 'POST';
        const response = await fetch(`${app.url}/counter`, {
          method,
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        statuses.push(response?.status ?? 0);
        if (!response) next = requests; // one hang is enough to fail; do not wait for the rest
        if (response && response.status >= 500) {
          failures.push({
            body: await response.json(),
            retryAfter: response.headers.get('retry-after'),
          });
        } else await response?.arrayBuffer();
      }
    }),
  );
  return { statuses, failures };
}

describe('a database connection dropped by the server', () => {
  test('during traffic, answers 503 with Retry-After (never 500); afterwards every request succeeds', async () => {
    let terminated = 0;
    let stop = false;
    const chaos = (async () => {
      while (!stop) {
        terminated += await terminateAppConnections();
        await new Promise((resolve) => setTimeout(resolve, 15)); // pacing of the chaos, not a wait
      }
    })();

    const during = await traffic(400, 8);
    stop = true;
    await chaos;
    const after = await traffic(60, 4);

    expect(terminated).toBeGreaterThan(0);
    const unexpected = during.statuses.filter((status) => status !== 200 && status !== 503);
    expect(unexpected).toEqual([]);
    for (const failure of during.failures) {
      expect(failure).toEqual({
        body: expect.objectContaining({ status: 503, code: 'database-unavailable' }),
        retryAfter: '1',
      });
    }
    expect(after.statuses).toEqual(Array(60).fill(200));
  });
});
