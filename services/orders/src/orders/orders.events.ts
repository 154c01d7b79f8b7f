import type { EntityManager } from '@mikro-orm/postgresql';
import { defineSubscription, handleOnce, type MikroORM } from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import type { CartStore } from '../cart/cart.store.ts';
import { closeOrdersOf } from './orders.use-cases.ts';

/** user-deleted: the customer's cart goes, their open orders are cancelled (once per event). */
export const userDeletedSubscription = (orm: MikroORM, carts: CartStore) =>
  defineSubscription({
    topic: 'user-deleted',
    schema: events['user-deleted'],
    async handle(event) {
      // Idempotent on its own; outside the transaction, which must not wait on the sidecar.
      await carts.drop(event.data.userId);
      await handleOnce(orm.em.fork() as EntityManager, 'orders', event.id, (em) =>
        closeOrdersOf(em, event.data.userId),
      );
    },
  });
