import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger, MikroORM } from '@sidecart/chassis';
import type { ProductsClient } from '../clients/products.client.ts';
import { failPendingOrder, settleOrder } from './settlement.ts';

export interface SweeperOptions {
  orm: MikroORM;
  products: ProductsClient;
  logger: Logger;
  intervalMs: number;
  /** How long one claimed order is left to this replica before another may take it. */
  leaseMs: number;
  /** A pending order this old that still cannot be settled fails. */
  maxAgeMs: number;
  batchSize?: number;
}

export interface Sweeper {
  /** Settles what is due now (tests; the timer does the same). */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Finishes pending orders nobody settled (a 503, a crashed replica): reserves again — products
 * answers the same for the same order — or, once the order is too old, fails it and publishes
 * `order-failed` so products releases anything it may hold. Every replica runs one: a batch is
 * claimed by moving its `sweep_at` forward under `for update skip locked`, so no two replicas
 * work on one order at a time, and a replica that dies mid-batch only delays its orders a lease.
 */
export function startSweeper(options: SweeperOptions): Sweeper {
  const em = () => options.orm.em.fork() as EntityManager;
  const deps = { em: em(), products: options.products };
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);

  const settle = async ({ id, created_at }: { id: string; created_at: Date }) => {
    try {
      await settleOrder(deps, id);
    } catch (error) {
      if (Date.now() - new Date(created_at).getTime() < options.maxAgeMs) return;
      options.logger.warn(
        { err: error, orderId: id },
        'pending order failed: products unreachable',
      );
      await failPendingOrder(deps, id, 'reservation-timed-out');
    }
  };

  const sweep = async () => {
    const due = await claimDue(em(), options.leaseMs, options.batchSize ?? 20);
    for (const order of due) await settle(order);
    return due.length;
  };

  const tick = async () => {
    if (stopped) return;
    running = sweep().catch((error: unknown) => {
      options.logger.error({ err: error }, 'sweep failed');
      return 0;
    });
    await running;
    if (!stopped) timer = setTimeout(tick, options.intervalMs);
  };
  let timer = setTimeout(tick, options.intervalMs);

  return {
    sweep: () => (running = running.then(sweep)),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** Takes up to `limit` due pending orders for `leaseMs`; other replicas skip them meanwhile. */
async function claimDue(em: EntityManager, leaseMs: number, limit: number) {
  return em.getConnection().execute<{ id: string; created_at: Date }[]>(
    `update orders set sweep_at = now() + make_interval(secs => ?)
       where id in (select id from orders where status = 'pending' and sweep_at <= now()
                    order by sweep_at limit ? for update skip locked)
       returning id, created_at`,
    [leaseMs / 1000, limit],
  );
}
