import { defineEntity, p } from '@mikro-orm/core';
import { conflict } from '@sidecart/chassis';
import type { ReservedLine, ShortLine } from '@sidecart/contracts';
import { v7 as uuidv7 } from 'uuid';

export const orderStatuses = [
  'pending',
  'confirmed',
  'shipped',
  'delivered',
  'cancelled',
  'rejected',
  'failed',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/**
 * What a person may ask for (PATCH, DELETE). The saga's own moves — pending to confirmed,
 * rejected or failed — are methods below, never requests.
 */
const requestable: Partial<Record<OrderStatus, OrderStatus[]>> = {
  confirmed: ['shipped', 'cancelled'],
  shipped: ['delivered'],
};

/** A product and how many; with the price snapshot once the stock is reserved. */
export interface OrderLine {
  productId: string;
  quantity: number;
  unitPriceCents?: number;
  currency?: string;
}

export const OrderSchema = defineEntity({
  name: 'Order',
  tableName: 'orders',
  indexes: [
    { name: 'orders_user_id_index', properties: ['userId', 'id'] },
    { name: 'orders_status_index', properties: ['status', 'id'] },
    // The sweeper's query: pending orders, by when they are due.
    { name: 'orders_pending_index', properties: ['sweepAt'], where: { status: 'pending' } },
  ],
  properties: {
    // Version 7 ids sort by creation time: cursor pagination needs no extra column.
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    userId: p.uuid(),
    status: p.enum(orderStatuses).default('pending'),
    // Lines are the order's own values, never queried alone: one JSON column, one insert.
    lines: p.json<OrderLine[]>(),
    totalCents: p.integer().nullable(),
    currency: p.string().length(3).nullable(),
    /** Rejected orders: what was short. */
    shortLines: p.json<ShortLine[]>().nullable(),
    /** Why the order failed or was cancelled (kebab-case, as in the events). */
    reason: p.string().length(64).nullable(),
    /** Set by user-deleted while the order was pending: cancel it as soon as it settles. */
    cancelOnSettle: p.string().length(64).nullable(),
    /** When the sweeper may next look at this pending order (a lease between replicas). */
    sweepAt: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    version: p.integer().version(),
  },
});

export class Order extends OrderSchema.class {
  /** A new pending order, in memory only: the caller inserts it (placement.queries.ts). */
  static pending(userId: string, lines: OrderLine[], sweepAt: Date): Order {
    const now = new Date();
    return Object.assign(new Order(), {
      id: uuidv7(),
      userId,
      status: 'pending' as const,
      lines,
      totalCents: null,
      currency: null,
      shortLines: null,
      reason: null,
      cancelOnSettle: null,
      sweepAt,
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
  }

  isOwnedBy(userId: string): boolean {
    return this.userId === userId;
  }

  /** Reserved: prices from products' snapshot, the total in minor units. */
  confirm(reserved: ReservedLine[]): void {
    this.requirePending('confirm');
    const byProduct = new Map(reserved.map((line) => [line.productId, line]));
    this.lines = this.lines.map((line) => {
      const snapshot = byProduct.get(line.productId);
      if (!snapshot) throw new Error(`products reserved no line for ${line.productId}`);
      return { ...line, unitPriceCents: snapshot.priceCents, currency: snapshot.currency };
    });
    this.totalCents = this.lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents!, 0);
    this.currency = this.lines[0]!.currency!;
    this.status = 'confirmed';
  }

  /** One currency per order: its total is one amount. */
  hasOneCurrency(reserved: ReservedLine[]): boolean {
    return new Set(reserved.map((line) => line.currency)).size === 1;
  }

  reject(shortLines: ShortLine[]): void {
    this.requirePending('reject');
    this.shortLines = shortLines;
    this.status = 'rejected';
  }

  fail(reason: string): void {
    this.requirePending('fail');
    this.reason = reason;
    this.status = 'failed';
  }

  /** Moves the order as a person asked (PATCH, DELETE): anything else is a 409. */
  transitionTo(next: OrderStatus, reason?: string): void {
    const allowed = requestable[this.status as OrderStatus] ?? [];
    if (!allowed.includes(next)) {
      throw conflict(
        'invalid-transition',
        `An order that is ${this.status} cannot become ${next}`,
        { extensions: { currentStatus: this.status, allowed } },
      );
    }
    this.status = next;
    if (next === 'cancelled') this.reason = reason ?? 'customer-request';
  }

  /** The owner may cancel before shipping; an admin may do any allowed transition. */
  canBeChangedBy(user: { id: string; isAdmin: boolean }, next: OrderStatus): boolean {
    return user.isAdmin || (this.isOwnedBy(user.id) && next === 'cancelled');
  }

  private requirePending(action: string): void {
    if (this.status !== 'pending') {
      throw new Error(`cannot ${action} an order that is ${this.status}`);
    }
  }
}
OrderSchema.setClass(Order);
