import { defineEntity, p } from '@mikro-orm/core';
import { v7 as uuidv7 } from 'uuid';

/** Every manual stock change, with who made it and why: a seller's audit trail. */
export const StockAdjustmentSchema = defineEntity({
  name: 'StockAdjustment',
  tableName: 'stock_adjustments',
  indexes: [{ name: 'stock_adjustments_product_id_index', properties: ['productId'] }],
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    productId: p.uuid(),
    delta: p.integer(),
    reason: p.string().length(200),
    actorId: p.uuid(),
    stockAfter: p.integer(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class StockAdjustment extends StockAdjustmentSchema.class {}
StockAdjustmentSchema.setClass(StockAdjustment);
