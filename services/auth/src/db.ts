import { fileURLToPath } from 'node:url';
import { createOrm, messagingEntities, type Logger } from '@sidecart/chassis';
import { migrations } from './migrations/index.ts';
import { RefreshToken } from './sessions/refresh-token.entity.ts';
import { User } from './users/user.entity.ts';

export const entities = [User, RefreshToken, ...messagingEntities];

export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export const connectDatabase = (databaseUrl: string, logger: Logger) =>
  createOrm({ databaseUrl, entities, migrations, migrationsPath, logger });
