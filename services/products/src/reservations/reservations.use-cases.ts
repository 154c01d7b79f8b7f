import type { EntityManager } from '@mikro-orm/postgresql';
import type {
  ReleaseResponse,
  ReserveRequest,
  ReserveResponse,
  ReservedLine,
  ShortLine,
} from '@sidecart/contracts';
import { Reservation } from './reservation.entity.ts';

/** Thrown inside the transaction to undo the decrements of a reservation that cannot be whole. */
class ShortReservation extends Error {
  readonly shortLines: ShortLine[];
  constructor(shortLines: ShortLine[]) {
    super('short');
    this.shortLines = shortLines;
  }
}

/** Thrown when the order's reservation row exists already: undo, and answer what it says. */
class AlreadyDecided extends Error {}

/**
 * Reserves every line or none, once per order. Lines are decremented in product-id order, so two
 * reservations never wait on each other's rows in opposite orders (no deadlocks); then the
 * reservation row is inserted, and its primary key decides between concurrent retries of one
 * order: the one that finds it taken rolls its decrements back and answers what the first
 * decided. The row goes last so that a hot product's row lock is held for as short as possible.
 * No lookup comes first: retries are rare, and the insert finds them anyway.
 */
export async function reserveStock(
  em: EntityManager,
  request: ReserveRequest,
): Promise<ReserveResponse> {
  const lines = [...request.lines].sort((a, b) => a.productId.localeCompare(b.productId));
  try {
    return await em.transactional(async (tx) => {
      const reserved = await takeStock(tx, lines);
      const claimed = await tx.execute(
        `insert into reservations (order_id, status, lines, short_lines, created_at)
         values (?, 'reserved', ?, '[]', now()) on conflict (order_id) do nothing returning order_id`,
        [request.orderId, JSON.stringify(reserved)],
      );
      if (claimed.length === 0) throw new AlreadyDecided();
      return { status: 'reserved' as const, orderId: request.orderId, lines: reserved };
    });
  } catch (error) {
    if (error instanceof ShortReservation) return rejectReservation(em, request, error.shortLines);
    if (error instanceof AlreadyDecided) {
      return answerOf((await findReservation(em, request.orderId))!, request);
    }
    throw error;
  }
}

/** Records the refusal, unless a concurrent retry decided first: then its answer stands. */
async function rejectReservation(
  em: EntityManager,
  request: ReserveRequest,
  shortLines: ShortLine[],
): Promise<ReserveResponse> {
  const claimed = await em.execute(
    `insert into reservations (order_id, status, lines, short_lines, created_at)
     values (?, 'rejected', '[]', ?, now()) on conflict (order_id) do nothing returning order_id`,
    [request.orderId, JSON.stringify(shortLines)],
  );
  if (claimed.length === 0) return answerOf((await findReservation(em, request.orderId))!, request);
  return { status: 'rejected', orderId: request.orderId, shortLines };
}

const findReservation = (em: EntityManager, orderId: string) =>
  em.fork().findOne(Reservation, { orderId });

/** One conditional decrement per line; throws ShortReservation naming every line that is short. */
async function takeStock(
  em: EntityManager,
  lines: ReserveRequest['lines'],
): Promise<ReservedLine[]> {
  const reserved: ReservedLine[] = [];
  const short: ShortLine[] = [];
  for (const { productId, quantity } of lines) {
    const [taken] = await em.execute<{ price_cents: number; currency: string }[]>(
      `update products set stock = stock - ?, version = version + 1, updated_at = now()
       where id = ? and stock >= ? and status = 'active' returning price_cents, currency`,
      [quantity, productId, quantity],
    );
    if (taken) {
      reserved.push({
        productId,
        quantity,
        priceCents: taken.price_cents,
        currency: taken.currency,
      });
      continue;
    }
    const [row] = await em.execute<{ stock: number; status: string }[]>(
      'select stock, status from products where id = ?',
      [productId],
    );
    const available = row?.status === 'active' ? row.stock : 0;
    short.push({ productId, requested: quantity, available });
  }
  if (short.length > 0) throw new ShortReservation(short);
  return reserved;
}

/** What a retry is told: the first answer, from the row. */
function answerOf(reservation: Reservation, request: ReserveRequest): ReserveResponse {
  const { orderId } = reservation;
  if (reservation.status === 'reserved' || reservation.status === 'released') {
    return { status: 'reserved', orderId, lines: reservation.lines };
  }
  if (reservation.status === 'rejected') {
    return { status: 'rejected', orderId, shortLines: reservation.shortLines };
  }
  // Voided: the order was released (cancelled, failed) before this reserve came: nothing for it.
  const shortLines = request.lines.map(({ productId, quantity }) => ({
    productId,
    requested: quantity,
    available: 0,
  }));
  return { status: 'rejected', orderId, shortLines };
}

/**
 * Gives back what the order's reservation took, once: one conditional update flips it from
 * `reserved` to `released`, and only the transaction that flipped it restores the stock. A release
 * with no reservation leaves a `voided` row, so a reserve arriving later holds nothing.
 */
export async function releaseStock(em: EntityManager, orderId: string): Promise<ReleaseResponse> {
  return em.transactional(async (tx) => {
    const released = await flipToReleased(tx, orderId);
    if (released) return { orderId, status: 'released', lines: released };
    const voided = await tx.execute(
      `insert into reservations (order_id, status, lines, short_lines, created_at, released_at)
       values (?, 'voided', '[]', '[]', now(), now()) on conflict (order_id) do nothing returning order_id`,
      [orderId],
    );
    if (voided.length > 0) return { orderId, status: 'not-reserved', lines: [] };
    // A reservation committed while we looked (our insert waited for it): release it now.
    const late = await flipToReleased(tx, orderId);
    if (late) return { orderId, status: 'released', lines: late };
    const [row] = await tx.execute<{ status: string; lines: ReservedLine[] }[]>(
      'select status, lines from reservations where order_id = ?',
      [orderId],
    );
    if (row?.status !== 'released') return { orderId, status: 'not-reserved', lines: [] };
    return { orderId, status: 'already-released', lines: row.lines.map(toOrderLine) };
  });
}

/** Flips a held reservation to released and restores its stock; undefined if none was held. */
async function flipToReleased(em: EntityManager, orderId: string) {
  const [flipped] = await em.execute<{ lines: ReservedLine[] }[]>(
    `update reservations set status = 'released', released_at = now()
     where order_id = ? and status = 'reserved' returning lines`,
    [orderId],
  );
  if (!flipped) return undefined;
  const lines = [...flipped.lines].sort((a, b) => a.productId.localeCompare(b.productId));
  for (const line of lines) {
    await em.execute(
      'update products set stock = stock + ?, version = version + 1, updated_at = now() where id = ?',
      [line.quantity, line.productId],
    );
  }
  return lines.map(toOrderLine);
}

const toOrderLine = ({ productId, quantity }: ReservedLine) => ({ productId, quantity });
