import type { EntityManager } from '@mikro-orm/postgresql';
import { defineSubscription, handleOnce, type MikroORM } from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import type { ProductCache } from './product-cache.ts';
import { archiveSellerProducts } from './products.use-cases.ts';

/** A deleted seller's products leave the catalog (archived: past orders still name them). */
export function productSubscriptions(orm: MikroORM, cache: ProductCache) {
  return [
    defineSubscription({
      topic: 'user-deleted',
      schema: events['user-deleted'],
      handle: async (event) => {
        const em = orm.em.fork() as EntityManager;
        await handleOnce(em, 'products:user-deleted', event.id, async (tx) => {
          const archived = await archiveSellerProducts(tx, event.data.userId);
          archived.forEach((id) => cache.forget(id));
        });
      },
    }),
  ];
}
