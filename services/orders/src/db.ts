import { fileURLToPath } from 'node:url';
import { createOrm, messagingEntities, type Logger } from '@sidecart/chassis';
import { migrations } from './migrations/index.ts';
import { IdempotencyRecord } from './orders/idempotency-record.entity.ts';
import { Order } from './orders/order.entity.ts';

export const entities = [Order, IdempotencyRecord, ...messagingEntities];

export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export const connectDatabase = (databaseUrl: string, logger: Logger, poolSize?: number) =>
  createOrm({ databaseUrl, entities, migrations, migrationsPath, logger, poolSize });
