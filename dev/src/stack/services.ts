import { existsSync } from 'node:fs';
import path from 'node:path';
import { inheritedEnv, type DevConfig } from './config.ts';
import { ensureSigningKey } from './signing-key.ts';

export interface ServiceContext {
  config: DevConfig;
  /** Where generated local secrets live (`.data/keys`). */
  keysDir: string;
}

/** One deployable of the catalog; its name is also its folder under services/ and its app-id. */
export interface ServiceDefinition {
  name: string;
  /** Public path prefixes the ingress routes to it, unchanged (the service mounts them itself). */
  prefixes: string[];
  database: string;
  /** Service-specific environment, shared by its migration and every replica. */
  env: (context: ServiceContext) => Record<string, string>;
}

export const catalog: ServiceDefinition[] = [
  {
    name: 'auth',
    prefixes: ['/api/auth'],
    database: 'auth',
    env: ({ config, keysDir }) => ({
      AUTH_PRIVATE_KEY_FILE: ensureSigningKey(path.join(keysDir, 'auth-signing-key.pem')),
      ADMIN_EMAIL: config.adminEmail,
      ADMIN_PASSWORD: config.adminPassword,
    }),
  },
  // SEED_DEMO_CATALOG: a small demo catalog, seeded once by the migration (local development only).
  {
    name: 'products',
    prefixes: ['/api/products'],
    database: 'products',
    env: () => ({ SEED_DEMO_CATALOG: '1' }),
  },
  // Verifies auth's tokens with its JWKS and reserves stock at products, both through Dapr.
  { name: 'orders', prefixes: ['/api/orders', '/api/cart'], database: 'orders', env: () => ({}) },
];

/** The services to run, in catalog order; every name must be in the catalog. */
export function selectServices(names: string[]): ServiceDefinition[] {
  const unknown = names.filter((name) => !catalog.some((service) => service.name === name));
  if (unknown.length > 0) {
    const known = catalog.map((service) => service.name).join(', ');
    throw new Error(`unknown service(s): ${unknown.join(', ')} (known: ${known})`);
  }
  return catalog.filter((service) => names.length === 0 || names.includes(service.name));
}

export interface EntryPoints {
  main: string;
  migrate: string;
}

/** The scripts the runtime starts for a service (never imported: dev/ only runs them). */
export function entryPoints(servicesDir: string, name: string): EntryPoints {
  const entries = {
    main: path.join(servicesDir, name, 'src', 'main.ts'),
    migrate: path.join(servicesDir, name, 'src', 'migrate.ts'),
  };
  for (const file of Object.values(entries)) {
    if (!existsSync(file)) throw new Error(`${name}: ${file} does not exist yet`);
  }
  return entries;
}

/** What a service's migration and replicas get, besides PORT and SERVICE_REPLICA. */
export function serviceEnv(service: ServiceDefinition, config: DevConfig, databaseUrl: string) {
  return {
    ...inheritedEnv(),
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    LOG_LEVEL: config.logLevel,
    DATABASE_URL: databaseUrl,
    ...service.env({ config, keysDir: path.join(config.dataDir, 'keys') }),
  };
}
