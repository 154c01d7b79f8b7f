import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { defineEntity, p } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import {
  createOrm,
  databaseCheck,
  migrate,
  ormRequestContext,
  type MikroORM,
} from '../src/orm/orm.ts';
import { createTestDatabase, silentLogger } from '../src/testing/index.ts';
import { call, startApp, type AppUnderTest } from './support.ts';

const Widget = defineEntity({
  name: 'Widget',
  tableName: 'widgets',
  properties: { id: p.string().primary(), name: p.string().length(100) },
});

class Migration20260101000000Widgets extends Migration {
  override up(): void {
    this.addSql(
      `create table "widgets" ("id" varchar(36) primary key, "name" varchar(100) not null);`,
    );
  }
}

const openOrms: MikroORM[] = [];
afterAll(() => Promise.all(openOrms.map((orm) => orm.close())));

async function connect(databaseUrl: string): Promise<MikroORM> {
  const orm = await createOrm({
    databaseUrl,
    entities: [Widget],
    migrations: [Migration20260101000000Widgets],
    logger: silentLogger(),
  });
  openOrms.push(orm);
  return orm;
}

async function appliedMigrations(orm: MikroORM): Promise<string[]> {
  const rows = await orm.em
    .fork()
    .execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
  return rows.map((row) => row.name);
}

describe('migrate', () => {
  test('applies pending migrations and returns their names; a second run applies nothing', async () => {
    const orm = await connect(await createTestDatabase('chassis_migrate'));

    const applied = await migrate(orm);
    const appliedAgain = await migrate(orm);

    expect(applied).toEqual(['Migration20260101000000Widgets']);
    expect(appliedAgain).toEqual([]);
    expect(await appliedMigrations(orm)).toEqual(['Migration20260101000000Widgets']);
    expect(await orm.em.fork().count(Widget, {})).toBe(0);
  });

  test('run from two ORM instances at once, applies each migration exactly once', async () => {
    const databaseUrl = await createTestDatabase('chassis_migrate_race');
    const [one, other] = await Promise.all([connect(databaseUrl), connect(databaseUrl)]);

    const results = await Promise.all([migrate(one), migrate(other)]);

    expect(results.map((names) => names.length).sort()).toEqual([0, 1]);
    expect(results.flat()).toEqual(['Migration20260101000000Widgets']);
    expect(await appliedMigrations(one)).toEqual(['Migration20260101000000Widgets']);
  });
});

describe('ormRequestContext', () => {
  let orm: MikroORM;
  let app: AppUnderTest;
  beforeAll(async () => {
    orm = await connect(await createTestDatabase('chassis_orm_context'));
    await migrate(orm);
    const router = new Router()
      .post('/widgets', async (ctx) => {
        const widget = orm.em.create(Widget, ctx.request.body as { id: string; name: string });
        await orm.em.flush();
        ctx.status = 201;
        ctx.body = widget;
      })
      .get('/widgets/:id', async (ctx) => {
        ctx.body = await orm.em.findOneOrFail(Widget, { id: ctx.params.id });
      });
    app = await startApp({
      routers: [router],
      middleware: [ormRequestContext(orm)],
      readiness: { database: databaseCheck(orm) },
    });
  });
  afterAll(() => app.close());

  test('a request can use the global orm.em: it gets its own context', async () => {
    const created = await call(app.url, 'POST', '/widgets', {
      body: { id: 'w-1', name: 'Sprocket' },
    });

    const read = await call(app.url, 'GET', '/widgets/w-1');

    expect(created.status).toBe(201);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ id: 'w-1', name: 'Sprocket' });
    const stored = await orm.em.fork().findOne(Widget, { id: 'w-1' });
    expect(stored?.name).toBe('Sprocket');
  });

  test('findOneOrFail of a missing row answers 404 through the translator', async () => {
    const response = await call(app.url, 'GET', '/widgets/none');

    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 'not-found' });
  });

  test('outside a request context, the global EntityManager refuses to work', async () => {
    const outside = orm.em.find(Widget, {});

    await expect(outside).rejects.toThrow(/global EntityManager/);
  });

  test('readiness passes with databaseCheck against a live database', async () => {
    const response = await call(app.url, 'GET', '/readyz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ready', checks: ['database'] });
  });
});
