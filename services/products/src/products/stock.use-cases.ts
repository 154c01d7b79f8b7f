import type { EntityManager } from '@mikro-orm/postgresql';
import { conflict, notFound } from '@sidecart/chassis';
import { maxStock, Product } from './product.entity.ts';
import { StockAdjustment } from './stock-adjustment.entity.ts';
import { assertCanChange, type Viewer } from './viewer.ts';

/**
 * Adds `delta` (negative: removes) to the stock in one conditional statement, so concurrent
 * adjustments and reservations never lose a unit nor take the stock below zero. Needs no If-Match:
 * a delta does not depend on the stock the seller last saw.
 */
export async function adjustStock(
  em: EntityManager,
  id: string,
  input: { delta: number; reason: string },
  viewer: Viewer & { id: string },
) {
  return em.transactional(async (tx) => {
    const product = await tx.findOne(Product, { id });
    if (!product) throw notFound('product', id);
    assertCanChange(viewer, product);
    const updated: { stock: number }[] = await tx.execute(
      `update products set stock = stock + ?, version = version + 1, updated_at = now()
       where id = ? and stock + ? between 0 and ? returning stock`,
      [input.delta, id, input.delta, maxStock],
    );
    if (updated.length === 0) throw await stockRefused(tx, id, input.delta);
    tx.create(StockAdjustment, {
      productId: id,
      delta: input.delta,
      reason: input.reason,
      actorId: viewer.id,
      stockAfter: updated[0]!.stock,
    });
    await tx.flush();
    return tx.refresh(product) as Promise<Product>;
  });
}

async function stockRefused(em: EntityManager, id: string, delta: number) {
  const [row] = await em.execute<{ stock: number }[]>('select stock from products where id = ?', [
    id,
  ]);
  const stock = row?.stock ?? 0;
  if (delta < 0) {
    return conflict('insufficient-stock', `Only ${stock} in stock: cannot remove ${-delta}`, {
      extensions: { stock, delta },
    });
  }
  return conflict('stock-limit', `Stock cannot exceed ${maxStock} (now ${stock})`, {
    extensions: { stock, delta, maxStock },
  });
}
