import { fileURLToPath } from 'node:url';
import { createOrm, messagingEntities, type Logger } from '@sidecart/chassis';
import { migrations } from './migrations/index.ts';
import { Product } from './products/product.entity.ts';
import { StockAdjustment } from './products/stock-adjustment.entity.ts';
import { Reservation } from './reservations/reservation.entity.ts';

export const entities = [Product, StockAdjustment, Reservation, ...messagingEntities];

export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export const connectDatabase = (databaseUrl: string, logger: Logger) =>
  createOrm({ databaseUrl, entities, migrations, migrationsPath, logger });
