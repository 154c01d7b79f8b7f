import { fileURLToPath } from 'node:url';
import { createOrm, messagingEntities, type Logger } from '@sidecart/chassis';
import { migrations } from './migrations/index.ts';
import { Product } from './products/product.entity.ts';
import { StockAdjustment } from './products/stock-adjustment.entity.ts';
import { Reservation } from './reservations/reservation.entity.ts';
import { reserveBatchRoutine } from './reservations/reserve-batch.routine.ts';

export const entities = [Product, StockAdjustment, Reservation, ...messagingEntities];

/** Stored functions the schema holds beside the entities' tables. */
export const routines = [reserveBatchRoutine];

export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export const connectDatabase = (databaseUrl: string, logger: Logger) =>
  createOrm({ databaseUrl, entities, routines, migrations, migrationsPath, logger });
