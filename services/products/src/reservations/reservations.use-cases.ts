import type { EntityManager } from '@mikro-orm/postgresql';
import { batchesInFlight, type BatchesInFlight, type Logger } from '@sidecart/chassis';
import type {
  ReleaseResponse,
  ReserveRequest,
  ReserveResponse,
  ReservedLine,
} from '@sidecart/contracts';
import {
  findReservation,
  insertReservation,
  isUniqueViolation,
  reserveBatch,
  reserveOneLine,
  type ReservationRow,
} from './reservations.queries.ts';

/**
 * Reserves every line or none, once per order: one statement decides, records and takes
 * (reservations.queries.ts); a single line — every hot product's case — first tries the cheaper
 * one that only takes. When the order already had a reservation (a retry, or a release that came
 * first), it answers what that reservation says.
 */
export async function reserveStock(
  em: EntityManager,
  request: ReserveRequest,
): Promise<ReserveResponse> {
  const decided = await decideReservation(em, request);
  if (decided) return answerOf(request, decided);
  // The row exists: the insert that found it waited for it to commit.
  return answerOf(request, (await findReservation(em, request.orderId))!);
}

async function decideReservation(em: EntityManager, request: ReserveRequest) {
  const [line, ...others] = request.lines;
  if (others.length === 0) {
    try {
      const taken = await reserveOneLine(em, request.orderId, line!);
      if (taken) return taken;
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }
  return insertReservation(em, request);
}

export interface ReservationStatementsOptions {
  em: () => EntityManager;
  /** Reservation statements at most running at once from this replica. */
  inFlight: number;
  logger: Logger;
}

/** At most this many reservations are decided by one statement. */
const maxStatementBatch = 64;

/**
 * Reservations leave at once while fewer than `inFlight` reservation statements are running, and
 * otherwise queue until one returns, then are decided together by one statement and one commit
 * (ADR 0016, addendum): a flash sale's reservations queue for the hot row's lock either way, and
 * one statement then takes that lock once for a whole batch. Each is still decided on its own, in
 * order, so a batch changes no outcome; a batch of one takes the single statements. If the batch
 * statement fails (a release voided one of its orders meanwhile, say), nothing of it was written
 * and each reservation is decided alone.
 */
export function reservationStatements({
  em,
  inFlight,
  logger,
}: ReservationStatementsOptions): BatchesInFlight<ReserveRequest, ReserveResponse> {
  const decideAlone = (request: ReserveRequest) => reserveStock(em(), request);
  return batchesInFlight<ReserveRequest, ReserveResponse>({
    inFlight,
    maxBatch: maxStatementBatch,
    send: async (batch) => {
      if (batch.length === 1) return [await decideAlone(batch[0]!)];
      try {
        const rows = await reserveBatch(em(), batch);
        return rows.map((row, index) => answerOf(batch[index]!, row));
      } catch (error) {
        logger.warn(
          { err: error, reservations: batch.length },
          'reservation batch failed: deciding each alone',
        );
        const outcomes = await Promise.allSettled(batch.map(decideAlone));
        return outcomes.map((outcome) =>
          outcome.status === 'fulfilled' ? outcome.value : toError(outcome.reason),
        );
      }
    },
  });
}

const toError = (reason: unknown) => (reason instanceof Error ? reason : new Error(String(reason)));

/** The answer a reservation row gives, to the first call and every retry alike. */
function answerOf(request: ReserveRequest, reservation: ReservationRow): ReserveResponse {
  const { orderId } = request;
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
