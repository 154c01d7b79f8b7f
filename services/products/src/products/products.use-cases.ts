import { OptimisticLockError, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { conflict, forbidden, notFound, preconditionFailed } from '@sidecart/chassis';
import { Product } from './product.entity.ts';
import { recordProductArchived, recordProductSaved } from './products.outbox.ts';
import type { CreateProductInput, ProductChanges } from './products.schemas.ts';
import { assertCanChange, isAdmin, type Viewer } from './viewer.ts';

interface Actor {
  viewer: Viewer & { id: string };
  traceparent?: string;
}

/** Creates a product (the caller's own; an admin may name the seller) and records product-created. */
export async function createProduct(em: EntityManager, input: CreateProductInput, actor: Actor) {
  const { sellerId = actor.viewer.id, ...fields } = input;
  if (sellerId !== actor.viewer.id && !isAdmin(actor.viewer)) {
    throw forbidden('Only an admin may create products for another seller');
  }
  return withConflicts(() =>
    em.transactional(async (tx) => {
      const product = tx.create(Product, { ...fields, sellerId });
      await tx.flush(); // the event carries the id, version and time this writes
      recordProductSaved(tx, product, 'product-created', actor.traceparent);
      return product;
    }),
  );
}

/** 404 for a product the viewer may not see, 403 for one they may not change. */
export async function authorizeChange(em: EntityManager, id: string, viewer: Viewer) {
  const product = await em.findOne(Product, { id });
  if (!product) throw notFound('product', id);
  assertCanChange(viewer, product);
}

/**
 * Applies PUT/PATCH changes under the optimistic lock: `expectedVersion` is the version the
 * client last saw (If-Match; undefined for `*`). The flush updates `where version = <read
 * version>`, so a change that lands between our read and our write is still a 412.
 */
export async function changeProduct(
  em: EntityManager,
  id: string,
  changes: ProductChanges,
  actor: Actor & { expectedVersion: number | undefined },
) {
  return withConflicts(
    () =>
      em.transactional(async (tx) => {
        const product = await tx.findOne(Product, { id });
        if (!product) throw notFound('product', id);
        assertCanChange(actor.viewer, product);
        if (actor.expectedVersion !== undefined && actor.expectedVersion !== product.version) {
          throw stale(product.version);
        }
        const wasArchived = product.status === 'archived';
        const before = product.version;
        tx.assign(product, changes);
        await tx.flush();
        if (product.version === before) return product; // nothing changed: no event either
        if (product.status === 'archived' && !wasArchived) {
          recordProductArchived(tx, product, 'archived-by-owner', actor.traceparent);
        } else {
          recordProductSaved(tx, product, 'product-updated', actor.traceparent);
        }
        return product;
      }),
    { em, id },
  );
}

/** DELETE archives (soft): the product stays for its seller, admins and past orders. */
export const archiveProduct = (
  em: EntityManager,
  id: string,
  actor: Actor & { expectedVersion: number | undefined },
) => changeProduct(em, id, { status: 'archived' }, actor);

const stale = (currentVersion: number) =>
  preconditionFailed(`The product was changed since you read it (now version ${currentVersion})`, {
    extensions: { currentVersion },
  });

/** Turns the database's verdicts on a write into problems: a lost race is a 412, a taken SKU a 409. */
async function withConflicts<T>(
  write: () => Promise<T>,
  product?: { em: EntityManager; id: string },
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw conflict('sku-taken', 'This seller has a product with this SKU already');
    }
    if (error instanceof OptimisticLockError && product) {
      const current = await product.em.fork().findOne(Product, { id: product.id });
      if (!current) throw notFound('product', product.id);
      throw stale(current.version);
    }
    throw error;
  }
}

/**
 * Archives every product of a seller that is not archived yet, each with its event. Runs in the
 * inbox's transaction: a concurrent edit makes the flush fail, and the redelivery tries again.
 */
export async function archiveSellerProducts(
  em: EntityManager,
  sellerId: string,
): Promise<string[]> {
  const products = await em.find(Product, { sellerId, status: { $ne: 'archived' } });
  for (const product of products) product.status = 'archived';
  await em.flush();
  for (const product of products) recordProductArchived(em, product, 'seller-deleted');
  await em.flush();
  return products.map((product) => product.id);
}
