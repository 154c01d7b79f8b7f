import { defineEntity, p } from '@mikro-orm/core';
import type { ReservedLine, ShortLine } from '@sidecart/contracts';

/**
 * `reserved` holds stock; `released` gave it back; `rejected` never held any; `voided` is a release
 * that came before any reservation, so a late reserve of that order cannot hold stock for good.
 */
export const reservationStatuses = ['reserved', 'rejected', 'released', 'voided'] as const;
export type ReservationStatus = (typeof reservationStatuses)[number];

export const ReservationSchema = defineEntity({
  name: 'Reservation',
  tableName: 'reservations',
  properties: {
    /** One reservation per order: the key that makes reserve and release idempotent. */
    orderId: p.uuid().primary(),
    status: p.enum(reservationStatuses),
    /** What was taken, with the price snapshot (reserved, released). */
    lines: p.json<ReservedLine[]>().default('[]'),
    /** Why it was refused (rejected). */
    shortLines: p.json<ShortLine[]>().default('[]'),
    createdAt: p.datetime().onCreate(() => new Date()),
    releasedAt: p.datetime().nullable(),
  },
});

export class Reservation extends ReservationSchema.class {}
ReservationSchema.setClass(Reservation);
