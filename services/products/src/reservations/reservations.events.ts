import type { EntityManager } from '@mikro-orm/postgresql';
import { defineSubscription, handleOnce, type MikroORM } from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import type { ProductCache } from '../products/product-cache.ts';
import { releaseStock } from './reservations.use-cases.ts';

/** A cancelled or failed order gives its stock back (release is idempotent; the inbox too). */
export function reservationSubscriptions(orm: MikroORM, cache: ProductCache) {
  const release = (topic: 'order-cancelled' | 'order-failed') =>
    defineSubscription({
      topic,
      schema: events[topic],
      handle: async (event) => {
        const em = orm.em.fork() as EntityManager;
        await handleOnce(em, `products:${topic}`, event.id, async (tx) => {
          const answer = await releaseStock(tx, event.data.orderId);
          answer.lines.forEach((line) => cache.forget(line.productId));
        });
      },
    });
  return [release('order-cancelled'), release('order-failed')];
}
