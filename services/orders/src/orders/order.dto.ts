import type { Order } from './order.entity.ts';

/** An order over the API: money as integer minor units with its currency. */
export function toOrderDto(order: Order) {
  return {
    id: order.id,
    userId: order.userId,
    status: order.status,
    lines: order.lines.map((line) => ({
      productId: line.productId,
      quantity: line.quantity,
      unitPrice:
        line.unitPriceCents === undefined
          ? null
          : { cents: line.unitPriceCents, currency: line.currency! },
    })),
    total:
      order.totalCents === null || order.totalCents === undefined
        ? null
        : { cents: order.totalCents, currency: order.currency! },
    ...(order.shortLines ? { shortLines: order.shortLines } : {}),
    reason: order.reason ?? null,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
    version: order.version,
  };
}

export type OrderDto = ReturnType<typeof toOrderDto>;
