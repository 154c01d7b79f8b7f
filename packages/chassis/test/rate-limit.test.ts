import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Router from '@koa/router';
import { Migration } from '@mikro-orm/migrations';
import { defineEntity, p } from '@mikro-orm/core';
import { unauthorized } from '../src/errors.ts';
import { byClientAddress, createRateLimits, type RateLimitRule } from '../src/http/rate-limit.ts';
import { rateLimitMigrations } from '../src/http/rate-limit.migration.ts';
import { createOrm, migrate, type MikroORM } from '../src/orm/orm.ts';
import { createTestDatabase, silentLogger } from '../src/testing/index.ts';
import { call, startApp, type AppUnderTest } from './support.ts';

// MikroORM wants at least one entity; the rate limits need none.
const Placeholder = defineEntity({
  name: 'Placeholder',
  properties: { id: p.integer().primary() },
});
class Migration20260101000000Placeholder extends Migration {
  override up(): void {
    this.addSql(`create table "placeholder" ("id" int primary key);`);
  }
}

let databaseUrl: string;
const orms: MikroORM[] = [];
const apps: AppUnderTest[] = [];
beforeAll(async () => {
  databaseUrl = await createTestDatabase('chassis_rate_limit');
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await Promise.all(orms.map((orm) => orm.close()));
});

/** One replica: its own ORM (and pool) on the shared database, its own app and port. */
async function startReplica(rules: RateLimitRule[]): Promise<AppUnderTest> {
  const orm = await createOrm({
    databaseUrl,
    entities: [Placeholder],
    migrations: [Migration20260101000000Placeholder, ...rateLimitMigrations],
    logger: silentLogger(),
  });
  orms.push(orm);
  await migrate(orm);
  const limits = createRateLimits(orm);
  const router = new Router().post('/attempt', limits.limit(...rules), (ctx) => {
    if (ctx.query.ok !== 'yes') throw unauthorized('invalid-credentials', 'Wrong');
    ctx.body = { ok: true };
  });
  const app = await startApp({ routers: [router] });
  apps.push(app);
  return app;
}

let ruleCounter = 0;
const rule = (overrides: Partial<RateLimitRule> = {}): RateLimitRule => ({
  name: `test-${++ruleCounter}`,
  limit: 5,
  windowSeconds: 60,
  key: byClientAddress(),
  ...overrides,
});
const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
const attempt = (app: AppUnderTest, address: string, ok = false) =>
  call(app.url, 'POST', `/attempt${ok ? '?ok=yes' : ''}`, from(address));

describe('createRateLimits', () => {
  test('two replicas on one database share the count: the 6th request of 5 allowed is 429', async () => {
    const shared = rule({ name: 'shared-count' });
    const [one, two] = await Promise.all([startReplica([shared]), startReplica([shared])]);

    const first = await Promise.all([1, 2, 3].map(() => attempt(one, '198.51.100.1', true)));
    const second = await Promise.all([1, 2].map(() => attempt(two, '198.51.100.1', true)));
    const refused = await attempt(one, '198.51.100.1', true);
    const otherClient = await attempt(two, '198.51.100.2', true);

    expect([...first, ...second].map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({
      status: 429,
      code: 'rate-limited',
      policy: 'shared-count',
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-policy')).toBe('"shared-count";q=5;w=60');
    expect(refused.headers.get('ratelimit')).toBe(`"shared-count";r=0;t=${retryAfter}`);
    expect(otherClient.status).toBe(200);
  });

  test('counters live in an unlogged table: counting a request waits for no WAL flush', async () => {
    await startReplica([rule()]);
    const rows = await orms[0]!.em
      .getConnection()
      .execute<{ relpersistence: string }[]>(
        `select relpersistence from pg_class where relname = 'rate_limits'`,
      );
    expect(rows).toEqual([{ relpersistence: 'u' }]);
  });

  test('admitted answers carry the policy and the remaining quota', async () => {
    const app = await startReplica([rule({ name: 'headers', limit: 3 })]);

    const response = await attempt(app, '198.51.100.3', true);

    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit-policy')).toBe('"headers";q=3;w=60');
    expect(response.headers.get('ratelimit')).toMatch(/^"headers";r=2;t=(59|60)$/);
  });

  test('50 requests at once against a limit of 5: exactly 5 get through', async () => {
    const app = await startReplica([rule({ name: 'burst' })]);

    const results = await Promise.all(
      Array.from({ length: 50 }, () => attempt(app, '198.51.100.4', true)),
    );

    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(45);
  });

  test("count: 'failures' with blockSeconds blocks after the failures; a success resets the counter", async () => {
    const failures = rule({
      name: 'failures',
      limit: 3,
      blockSeconds: 600,
      count: 'failures',
      resetOnSuccess: true,
    });
    const app = await startReplica([failures]);
    const address = '198.51.100.5';

    const early = [await attempt(app, address), await attempt(app, address)];
    const success = await attempt(app, address, true);
    const afterReset = [];
    for (let i = 0; i < 4; i += 1) afterReset.push(await attempt(app, address));
    const blocked = await attempt(app, address, true);

    expect(early.map((r) => r.status)).toEqual([401, 401]);
    expect(success.status).toBe(200);
    expect(afterReset.map((r) => r.status)).toEqual([401, 401, 401, 429]);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(590);
  });

  test('rules apply in order: a request the first refuses does not count against the next', async () => {
    const byAddress = rule({ name: 'order-address', limit: 2 });
    const byAccount = rule({ name: 'order-account', limit: 3, key: () => 'the-account' });
    const app = await startReplica([byAddress, byAccount]);

    const attacker = [];
    for (let i = 0; i < 5; i += 1) attacker.push(await attempt(app, '198.51.100.6', true));
    const owner = await attempt(app, '198.51.100.7', true);

    expect(attacker.map((r) => r.status)).toEqual([200, 200, 429, 429, 429]);
    expect(owner.status).toBe(200);
    expect(owner.headers.get('ratelimit')).toMatch(/"order-account";r=0;/);
  });

  test('X-Forwarded-For counts only from a trusted proxy: otherwise every request is its sender', async () => {
    const app = await startReplica([
      rule({ name: 'untrusted', limit: 2, key: byClientAddress([]) }),
    ]);

    const spoofed = [];
    for (let i = 0; i < 3; i += 1) spoofed.push(await attempt(app, `203.0.113.${i + 1}`, true));

    expect(spoofed.map((r) => r.status)).toEqual([200, 200, 429]);
  });
});
