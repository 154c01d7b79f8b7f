import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startAuth, type AuthUnderTest } from './support.ts';

let auth: AuthUnderTest;
beforeAll(async () => {
  auth = await startAuth();
});
afterAll(() => auth.close());

describe('migrations', () => {
  test('create what the entities describe: db:migration:create would find nothing to do', async () => {
    const diff = await auth.orm.schema.getUpdateSchemaSQL({ wrap: false });

    expect(diff).toBe('');
  });
});
