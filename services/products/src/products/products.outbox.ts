import type { EntityManager } from '@mikro-orm/postgresql';
import { recordEvent } from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import type { Product } from './product.entity.ts';

// The events a product change records in its own transaction; the outbox relay publishes them.
// Call after the flush that wrote the change, so they carry the version it produced. Stock moves
// publish nothing: the contracts carry catalog facts, and every reservation would be an event.

export function recordProductSaved(
  em: EntityManager,
  product: Product,
  topic: 'product-created' | 'product-updated',
  traceparent?: string,
): void {
  recordEvent(em, {
    topic,
    schema: events[topic],
    data: {
      productId: product.id,
      sellerId: product.sellerId,
      name: product.name,
      price: { cents: product.priceCents, currency: product.currency },
      status: product.status,
      version: product.version,
      occurredAt: product.updatedAt.toISOString(),
    },
    traceparent,
  });
}

export function recordProductArchived(
  em: EntityManager,
  product: Product,
  reason: 'archived-by-owner' | 'seller-deleted',
  traceparent?: string,
): void {
  recordEvent(em, {
    topic: 'product-archived',
    schema: events['product-archived'],
    data: {
      productId: product.id,
      sellerId: product.sellerId,
      reason,
      version: product.version,
      occurredAt: product.updatedAt.toISOString(),
    },
    traceparent,
  });
}
