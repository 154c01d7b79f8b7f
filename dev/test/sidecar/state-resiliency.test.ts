import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { call, createTestDatabase } from '@sidecart/chassis/testing';
import pg from 'pg';
import { startTestSidecar, stateComponent, yamlDocuments, type TestSidecar } from './harness.ts';

// Outbound resiliency of state stores (docs/dapr-behaviour.md §2.6): transient store errors are retried,
// etag mismatches and first-write conflicts are final. A statement trigger counts the UPDATE
// statements and fails the first N of them.

let sidecar: TestSidecar;
let db: pg.Pool;

beforeAll(async () => {
  const databaseUrl = await createTestDatabase('state_resiliency');
  const resources = yamlDocuments(
    stateComponent('retried', 'v2', { connectionString: databaseUrl }),
    `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: state-retries
spec:
  policies:
    retries:
      quick:
        policy: constant
        duration: 10ms
        maxRetries: 3
  targets:
    components:
      retried:
        outbound:
          retry: quick
`,
  );
  sidecar = await startTestSidecar({ appId: 'resilient', resources, databaseUrl });
  db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  // nextval() is not rolled back with the failing statement, so it counts every attempt.
  await db.query(`
    CREATE SEQUENCE attempts;
    CREATE TABLE failing (first integer NOT NULL);
    INSERT INTO failing VALUES (0);
    CREATE FUNCTION count_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('attempts') <= (SELECT first FROM failing) THEN
        RAISE EXCEPTION 'transient failure';
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER count_attempts BEFORE UPDATE ON state
      FOR EACH STATEMENT EXECUTE FUNCTION count_attempt();`);
});

afterAll(async () => {
  await sidecar?.close();
  await db?.end();
});

beforeEach(async () => {
  await db.query(`UPDATE failing SET first = 0`);
});

const save = (items: unknown) => call(sidecar.url, 'POST', '/v1.0/state/retried', { body: items });

async function failFirstAttempts(count: number): Promise<void> {
  await db.query(`UPDATE failing SET first = $1`, [count]);
  await db.query(`ALTER SEQUENCE attempts RESTART`);
}

const attempts = async () =>
  Number(
    (await db.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM attempts`))
      .rows[0].n,
  );

async function etagOf(key: string): Promise<string> {
  const response = await call(sidecar.url, 'GET', `/v1.0/state/retried/${key}`);
  return response.headers.get('etag')!;
}

describe('state store outbound resiliency', () => {
  test('a transient store error is retried until it succeeds', async () => {
    await save([{ key: 'flaky', value: 1 }]);
    const etag = await etagOf('flaky');
    await failFirstAttempts(2);

    const response = await save([{ key: 'flaky', value: 2, etag }]);

    expect(response.status).toBe(204);
    expect(await attempts()).toBe(3);
  });

  test('an etag mismatch is final: one attempt, 409', async () => {
    await save([{ key: 'raced', value: 1 }]);
    const etag = await etagOf('raced');
    await save([{ key: 'raced', value: 2 }]);
    await failFirstAttempts(0);

    const response = await save([{ key: 'raced', value: 3, etag }]);

    expect(response.status).toBe(409);
    expect(await attempts()).toBe(1);
  });

  test('a first-write conflict is a plain store error: retried by the policy, then 500', async () => {
    await save([{ key: 'taken', value: 1 }]);
    await failFirstAttempts(0);

    const response = await save([
      { key: 'taken', value: 2, options: { concurrency: 'first-write' } },
    ]);

    expect(response.status).toBe(500);
    expect(response.body.message).toBe(
      'failed saving state in state store retried: no item was updated',
    );
    expect(await attempts()).toBe(4);
  });

  test('when retries run out the last store error is the 500', async () => {
    await save([{ key: 'broken', value: 1 }]);
    const etag = await etagOf('broken');
    await failFirstAttempts(100);

    const response = await save([{ key: 'broken', value: 2, etag }]);

    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      errorCode: 'ERR_STATE_SAVE',
      message:
        'failed saving state in state store retried: ERROR: transient failure (SQLSTATE P0001)',
    });
    expect(await attempts()).toBe(4);
  });
});
