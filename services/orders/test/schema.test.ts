import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startOrders, type OrdersUnderTest } from './support.ts';

let orders: OrdersUnderTest;
beforeAll(async () => {
  orders = await startOrders();
});
afterAll(() => orders.close());

describe('migrations', () => {
  test('create what the entities describe: db:migration:create would find nothing to do', async () => {
    const diff = await orders.orm.schema.getUpdateSchemaSQL({ wrap: false });

    expect(diff).toBe('');
  });
});
